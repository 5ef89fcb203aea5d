#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "moe/routing_stats.h"
#include "vit/block.h"

namespace moevit {

class VisionTransformerImpl;
class ImageLoader;
struct Runtime;

struct LayerRoutingStats {
  int64_t block = 0;
  RoutingStats stats;
};

struct EvalResult {
  int64_t images = 0;
  double loss = 0;  // mean cross-entropy (no label smoothing)
  double top1 = 0;  // fractions in [0, 1]
  double top5 = 0;
  torch::Tensor confusion;  // [classes, classes] int64, rows = true class, columns = predicted
  std::vector<LayerRoutingStats> routing;  // one per MoE layer, summed over the data
  // One per block (index = block id), summed over the data: its FFN branch against the
  // residual stream (docs/results.md, "Experts that matter").
  std::vector<BranchSize> ffn_sizes;
  double seconds = 0;

  // Mean over the dense blocks of their FFN branch RMS (0 when every block is MoE).
  double dense_ffn_branch_rms() const;

  double images_per_second() const { return seconds > 0 ? images / seconds : 0; }
  std::vector<double> per_class_accuracy() const;
  // One line per MoE layer whose routing concentrated on one expert (RoutingStats::
  // concentrated), so that an MoE quietly working as a narrow dense layer is said out loud.
  std::vector<std::string> routing_warnings() const;
};

struct EvalOptions {
  // Test-time augmentation: classify each image by the mean of its logits and its mirror
  // image's (a second forward pass; routing statistics stay those of the unmirrored pass).
  bool average_hflip = false;
};

// One pass over the loader's current epoch in eval mode, without gradients.
EvalResult evaluate(VisionTransformerImpl& model, ImageLoader& loader, const Runtime& runtime,
                    const EvalOptions& options = {});

}  // namespace moevit
