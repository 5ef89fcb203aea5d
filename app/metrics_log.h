// metrics.jsonl: one JSON object per epoch, appended as the run goes (nlohmann::json).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace moevit {

struct EvalResult;
struct LayerRoutingStats;

// Per MoE layer: block, load share min/max, coefficient of variation, drop rate.
nlohmann::json routing_json(const std::vector<LayerRoutingStats>& routing);

// top1, top5, loss, images, images_per_s, and routing.
nlohmann::json eval_json(const EvalResult& result);

void append_json_line(const std::string& path, const nlohmann::json& record);

// Every record of a metrics.jsonl file; throws naming the file and line when one is not JSON.
std::vector<nlohmann::json> read_json_lines(const std::string& path);

}  // namespace moevit
