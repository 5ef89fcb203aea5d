// metrics.jsonl: one JSON object per epoch, appended as the run goes (nlohmann::json).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace moevit {

struct EvalResult;
struct LayerRoutingStats;
struct BranchSize;

// Per MoE layer: block, load share min/max, coefficient of variation, drop rate, tokens that
// reached an expert, experts per token, gates, and (when ffn_sizes has the block) the branch
// and residual RMS.
nlohmann::json routing_json(const std::vector<LayerRoutingStats>& routing,
                            const std::vector<BranchSize>& ffn_sizes);

// Per block: its FFN branch RMS and the residual stream's, per token.
nlohmann::json ffn_sizes_json(const std::vector<BranchSize>& ffn_sizes);

// top1, top5, loss, images, images_per_s, routing, blocks and dense_ffn_branch_rms.
nlohmann::json eval_json(const EvalResult& result);

void append_json_line(const std::string& path, const nlohmann::json& record);

// Every record of a metrics.jsonl file; throws naming the file and line when one is not JSON.
std::vector<nlohmann::json> read_json_lines(const std::string& path);

}  // namespace moevit
