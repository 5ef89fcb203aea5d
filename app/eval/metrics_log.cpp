#include "app/eval/metrics_log.h"

#include <fstream>
#include <stdexcept>

#include "app/eval/evaluation.h"

namespace moevit {

nlohmann::json routing_json(const std::vector<LayerRoutingStats>& routing,
                            const std::vector<BranchSize>& ffn_sizes) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerRoutingStats& layer : routing) {
    const RoutingStats& stats = layer.stats;
    nlohmann::json entry = {{"block", layer.block},
                            {"load_share_min", stats.load_share_min()},
                            {"load_share_max", stats.load_share_max()},
                            {"load_cv", stats.load_coefficient_of_variation()},
                            {"dropped_fraction", stats.dropped_fraction},
                            {"tokens_unprocessed_fraction", stats.tokens_unprocessed_fraction()},
                            {"reached_fraction", stats.reached_fraction()},
                            {"mean_experts_per_token", stats.mean_experts_per_token()},
                            {"tokens_with_0_1_2plus_experts",
                             {stats.tokens_by_expert_count[0], stats.tokens_by_expert_count[1],
                              stats.tokens_by_expert_count[2]}},
                            {"mean_top_gate", stats.mean_top_gate()},
                            {"mean_token_weight", stats.mean_token_weight()}};
    if (layer.block < static_cast<int64_t>(ffn_sizes.size())) {
      entry["branch_rms"] = ffn_sizes[layer.block].branch_rms();
      entry["residual_rms"] = ffn_sizes[layer.block].residual_rms();
    }
    layers.push_back(entry);
  }
  return layers;
}

nlohmann::json ffn_sizes_json(const std::vector<BranchSize>& ffn_sizes) {
  nlohmann::json blocks = nlohmann::json::array();
  for (size_t block = 0; block < ffn_sizes.size(); ++block)
    blocks.push_back({{"block", block},
                      {"ffn_branch_rms", ffn_sizes[block].branch_rms()},
                      {"residual_rms", ffn_sizes[block].residual_rms()}});
  return blocks;
}

nlohmann::json eval_json(const EvalResult& result) {
  return {{"top1", result.top1},
          {"top5", result.top5},
          {"loss", result.loss},
          {"images", result.images},
          {"images_per_s", result.images_per_second()},
          {"routing", routing_json(result.routing, result.ffn_sizes)},
          {"blocks", ffn_sizes_json(result.ffn_sizes)},
          {"dense_ffn_branch_rms", result.dense_ffn_branch_rms()}};
}

void append_json_line(const std::string& path, const nlohmann::json& record) {
  std::ofstream out(path, std::ios::app);
  if (!out) throw std::runtime_error(path + ": cannot open for appending");
  out << record.dump() << '\n';
  if (!out) throw std::runtime_error(path + ": write failed");
}

std::vector<nlohmann::json> read_json_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(path + ": no such file");
  std::vector<nlohmann::json> records;
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    try {
      records.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(path + ":" + std::to_string(line_number) + ": not JSON (" +
                               error.what() + ")");
    }
  }
  return records;
}

}  // namespace moevit
