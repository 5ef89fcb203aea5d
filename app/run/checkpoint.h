// Checkpoints: one LibTorch archive holding the model, the optimizer, the training position,
// the RNG state, the full resolved config (YAML) and the class names, so a checkpoint alone
// rebuilds the model. Always written to a temporary file, then renamed over the old one
// (app/run/atomic_write.h); a failed write (a full disk) is one error line, and the previous
// file stays as it was.
//
// A checkpoint is read as untrusted input: before LibTorch parses it, the zip archive's
// directory, extents and CRC-32s are checked (app/run/zip_check.h); before its tensors are used,
// their extents, names, dtypes and shapes (app/run/archive_tensors.h); once loaded, their
// checksum (app/run/tensor_checksum.h). Each failure is one line naming the file and what is
// wrong. Formats: 1 had no checksums (its files load, with a note on stderr); 2 adds one per
// part (weights, averaged weights, optimizer state).
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

class VisionTransformerImpl;

constexpr int64_t kCheckpointVersion = 2;

struct CheckpointState {
  std::string config_yaml;               // dump_config of the run
  std::vector<std::string> class_names;  // class_names[label]
  int64_t epoch = 0;                     // epochs completed
  int64_t step = 0;                      // optimisation steps completed
  int64_t batches_into_epoch = 0;        // mid-epoch checkpoints: steps of `epoch` done
  double best_top1 = 0;                  // best validation top-1 so far
  torch::Tensor rng_state;               // CPU generator state (uint8), may be undefined
  std::string initialized_from;  // the file of `train --init` or `import`, e.g. vit.safetensors
};

// optimizer may be null (weights-only checkpoint); averaged: the weights' moving average
// (optim.ema_decay), or null.
void save_checkpoint(const std::string& path, VisionTransformerImpl& model,
                     torch::optim::Optimizer* optimizer, const CheckpointState& state,
                     VisionTransformerImpl* averaged = nullptr);

// A checkpoint opened once. LibTorch deserialises the whole archive when it opens it (a ViT-S
// MoE checkpoint with AdamW's state is 459 MB), so whoever needs both the state and the
// weights reads them through one reader. Throws, naming the file, when it is not a checkpoint
// or is damaged.
class CheckpointReader {
 public:
  explicit CheckpointReader(std::string path);

  // 1 or 2: see the top of this file.
  int64_t format_version() const { return format_version_; }
  // The state without the weights (enough to rebuild the model from config_yaml).
  CheckpointState state();
  // Loads weights (and the optimizer's state when given) into a model built from the same
  // config. A parameter missing, extra, or of another dtype or shape is an error naming it,
  // raised before the model is touched; weights or state that fail their checksum are an error
  // after (the model then holds them, and must not be used).
  void load_weights(VisionTransformerImpl& model, torch::optim::Optimizer* optimizer);
  // The moving average of the weights, saved by runs with optim.ema_decay > 0.
  bool has_averaged_weights();
  void load_averaged_weights(VisionTransformerImpl& model);

 private:
  void load_module(const char* key, VisionTransformerImpl& model);
  // Compares `computed` with the checksum written under `key` (format 2); for format 1, prints
  // the note that the file's tensors go unverified, once per reader.
  void verify_checksum(const std::string& key, uint32_t computed, const std::string& what);

  std::string path_;
  torch::serialize::InputArchive archive_;
  int64_t format_version_ = 0;
  bool noted_unverified_ = false;
};

// One-shot forms of the reader's two reads.
CheckpointState read_checkpoint_state(const std::string& path);
void load_checkpoint_weights(const std::string& path, VisionTransformerImpl& model,
                             torch::optim::Optimizer* optimizer);

}  // namespace moevit
