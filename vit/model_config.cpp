#include "vit/model_config.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace moevit {

void check_model_config(const ModelConfig& config) {
  require_option(config.patch_size >= 1, "model.patch_size", "an integer >= 1",
                 std::to_string(config.patch_size));
  require_option(config.stem == Stem::kPatch || (config.patch_size & (config.patch_size - 1)) == 0,
                 "model.patch_size", "a power of two with model.stem: conv",
                 std::to_string(config.patch_size));
  require_option(
      config.image_size >= config.patch_size && config.image_size % config.patch_size == 0,
      "model.image_size",
      "a multiple of model.patch_size (" + std::to_string(config.patch_size) + ")",
      std::to_string(config.image_size));
  require_option(config.channels == 1 || config.channels == 3, "model.channels", "1 or 3",
                 std::to_string(config.channels));
  require_option(config.dim >= 1, "model.dim", "an integer >= 1", std::to_string(config.dim));
  require_option(config.heads >= 1 && config.dim % config.heads == 0, "model.heads",
                 "a divisor of model.dim (" + std::to_string(config.dim) + ")",
                 std::to_string(config.heads));
  require_option(config.depth >= 1, "model.depth", "an integer >= 1", std::to_string(config.depth));
  require_option(config.mlp_dim >= 1, "model.mlp_dim", "an integer >= 1",
                 std::to_string(config.mlp_dim));
  require_option(config.num_classes >= 1, "model.num_classes", "an integer >= 1",
                 std::to_string(config.num_classes));
  // A token that may not attend to itself needs another one (else its softmax is over nothing).
  require_option(config.attention == AttentionKind::kStandard || config.num_tokens() >= 2,
                 "model.attention", "standard when the image is a single token",
                 to_string(config.attention));
  require_option(config.dropout >= 0 && config.dropout < 1, "model.dropout", "a number in [0, 1)",
                 format_option_value(config.dropout));
  require_option(config.drop_path >= 0 && config.drop_path < 1, "model.drop_path",
                 "a number in [0, 1)", format_option_value(config.drop_path));
  check_moe_options(config.moe);
  if (config.moe.router == RouterKind::kDense) return;
  const MoePlacement& placement = config.placement;
  for (int64_t block : placement.blocks)
    require_option(block >= 0 && block < config.depth, "moe.blocks",
                   "block ids in [0, " + std::to_string(config.depth) + ")", std::to_string(block));
  require_option(placement.every >= 1, "moe.every", "an integer >= 1",
                 std::to_string(placement.every));
  require_option(placement.last >= 0 && placement.last <= config.depth / 2, "moe.last",
                 "at most the number of odd blocks (" + std::to_string(config.depth / 2) + ")",
                 std::to_string(placement.last));
  require_option(
      !moe_block_ids(config).empty(), "moe.every",
      "a placement that selects at least one of the " + std::to_string(config.depth) + " blocks",
      "none selected");
}

std::vector<int64_t> moe_block_ids(const ModelConfig& config) {
  std::vector<int64_t> ids;
  if (config.moe.router == RouterKind::kDense) return ids;
  const MoePlacement& placement = config.placement;
  if (!placement.blocks.empty()) {
    ids = placement.blocks;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  } else if (placement.last > 0) {
    // vmoe "last n": the last n odd blocks (depth 8, last 2 → blocks 5 and 7).
    for (int64_t block = config.depth - 1; block >= 0 && (int64_t)ids.size() < placement.last;
         --block)
      if (block % 2 == 1) ids.insert(ids.begin(), block);
  } else {
    // vmoe "every n": blocks n-1, 2n-1, … (every 2 → 1, 3, 5, …).
    for (int64_t block = placement.every - 1; block < config.depth; block += placement.every)
      ids.push_back(block);
  }
  return ids;
}

}  // namespace moevit
