#include "app/metrics_log.h"

#include <fstream>
#include <stdexcept>

#include "app/evaluation.h"

namespace moevit {

nlohmann::json routing_json(const std::vector<LayerRoutingStats>& routing) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerRoutingStats& layer : routing) {
    const RoutingStats& stats = layer.stats;
    layers.push_back({{"block", layer.block},
                      {"load_share_min", stats.load_share_min()},
                      {"load_share_max", stats.load_share_max()},
                      {"load_cv", stats.load_coefficient_of_variation()},
                      {"dropped_fraction", stats.dropped_fraction},
                      {"tokens_unprocessed_fraction", stats.tokens_unprocessed_fraction()},
                      {"mean_top_gate", stats.mean_top_gate()},
                      {"mean_token_weight", stats.mean_token_weight()}});
  }
  return layers;
}

nlohmann::json eval_json(const EvalResult& result) {
  return {{"top1", result.top1},
          {"top5", result.top5},
          {"loss", result.loss},
          {"images", result.images},
          {"images_per_s", result.images_per_second()},
          {"routing", routing_json(result.routing)}};
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
