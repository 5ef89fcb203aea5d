// Fuzz target "checkpoint": a checkpoint file as `moevit eval`, `classify` and `heatmap` load it
// (app/run/model_loading.h): the LibTorch archive, its state and config, then, for a tiny model
// only, the model rebuilt from that config with the archive's weights (the moving average's
// when there is one) and one forward pass on a black image. Work per input stays bounded: a
// config that asks for a larger model is read and checked, not built. Invariant beyond "no
// crash": loaded weights give logits of the shape [1, classes].
//
// Much of what is exercised here is LibTorch's (its zip reader and unpickler); a crash inside
// torch::jit::load is a LibTorch bug to report upstream and to guard against here if we can.
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdint>
#include <string>
#include <vector>

#include "app/run/checkpoint.h"
#include "app/run/config.h"
#include "app/run/model_loading.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {
namespace {

const char kTarget[] = "checkpoint";

// A model this small builds and runs in well under a millisecond; the seeds are of this size
// (scripts/make-fuzz-seeds.sh).
bool is_tiny(const ModelConfig& model) {
  const MoeOptions& moe = model.moe;
  return model.image_size <= 32 && model.num_patches() <= 64 && model.dim <= 64 &&
         model.depth <= 4 && model.mlp_dim <= 256 && model.num_classes <= 100 &&
         moe.num_experts <= 16 && model.expert_mlp_dim() <= 256 && moe.shared_experts <= 2 &&
         moe.shared_expert_mlp_dim <= 256 && moe.slots_per_expert <= 64;
}

void check_forward(VisionTransformer model, const ModelConfig& config) {
  torch::NoGradGuard no_grad;
  const torch::Tensor images =
      torch::zeros({1, config.channels, config.image_size, config.image_size});
  const torch::Tensor logits = model->forward(images).logits;
  const std::vector<int64_t> expected = {1, config.num_classes};
  if (logits.sizes().vec() != expected)
    report_finding(kTarget, c10::str("a loaded model gave logits of ", logits.sizes(),
                                     ", expected ", c10::IntArrayRef(expected)));
}

}  // namespace

bool fuzz_checkpoint(const uint8_t* data, size_t size) {
  static ScratchFile scratch(kTarget);
  const std::string& path = scratch.write(data, size);
  return run_input(kTarget, [&] {
    const CheckpointState state = read_checkpoint_state(path);
    if (!is_tiny(parse_config(state.config_yaml, path, {}).model)) return;
    const LoadedModel loaded = load_model(path, {}, WeightSource::kAuto);
    check_forward(loaded.model, loaded.config.model);
  });
}

}  // namespace moevit
