// The typed configuration of a run: model (with its MoE options), data, optimiser, run.
// YAML is read once, here, into these structs; `--set key.sub=value` overrides go through the
// same parser. Nothing below app/ sees a string key. Every refusal is one std::invalid_argument
// line naming the file and the key, e.g.
//   configs/x.yaml: moe.capacity_factor: expected a number > 0, got -1
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/auto_augment.h"
#include "ops/enum_names.h"
#include "vit/model_config.h"

namespace moevit {

struct DataConfig {
  std::string root;  // a folder of class folders, or one with train/ and val/, e.g. data/fmnist
  double val_split = 0.1;            // fraction held out when root has no val/ folder
  int64_t workers = 0;               // loader threads; 0 = one per core
  std::vector<double> mean{0.5};     // per channel (or one value for all), e.g. [0.485,0.456,0.406]
  std::vector<double> std{0.5};      // per channel (or one value for all)
  bool random_resized_crop = false;  // training crop as timm's RandomResizedCrop
  double scale_min = 0.08, scale_max = 1.0;         // crop area as a fraction of the image
  double ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;  // crop aspect ratio
  int64_t crop_padding = 0;     // without random_resized_crop: pad, then random crop back to size
  double hflip = 0.0;           // probability of a horizontal flip in training
  double random_erasing = 0.0;  // probability of erasing one random rectangle in training
  // Training, after crop and flip: RandAugment (N ops at magnitude M of 0..30) or TrivialAugment
  // (datasets/auto_augment.h), then colour jitter of this strength (timm's --color-jitter).
  AutoAugmentKind auto_augment = AutoAugmentKind::kNone;
  int64_t randaugment_n = 2;  // RandAugment's N (timm's rand-m9-n2)
  int64_t randaugment_m = 9;  // RandAugment's M, in [0, 30]
  double color_jitter = 0.0;  // brightness, contrast and saturation factors in [1 - S, 1 + S]
  // Per training batch, with soft targets (app/train/mixup.h, timm's Mixup): Beta(alpha, alpha)
  // for Mixup and for CutMix (0 = off), the probability a batch is mixed, and of CutMix when both.
  double mixup = 0.0;
  double cutmix = 0.0;
  double mixup_prob = 1.0;
  double mixup_switch_prob = 0.5;
  double crop_fraction = 1.0;       // eval: resize to size / crop_fraction, then center crop
  bool eval_hflip = false;          // eval: mean of the logits of each image and its mirror
  int64_t max_pixels = 64'000'000;  // refuse images larger than this before decoding
  bool drop_last = false;           // drop the last incomplete training batch
};

struct OptimConfig {
  double lr = 1e-3;      // AdamW peak learning rate, after warmup
  double min_lr = 1e-5;  // cosine decay ends here
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.05;
  int64_t warmup_steps = 0;  // linear warmup, in steps; or
  double warmup_epochs = 0;  // in epochs (at most one of the two is set)
  int64_t epochs = 10;
  int64_t steps = 0;  // if > 0, overrides epochs
  int64_t batch_size =
      128;                  // the global batch of one optimizer step (all ranks, all micro-batches)
  int64_t accum_steps = 1;  // micro-batches per step: each rank loads batch_size / (ranks · this)
  double grad_clip = 1.0;   // global gradient norm clip; 0 = off
  double label_smoothing = 0.0;
  double aux_loss_weight = 1.0;  // multiplies the summed MoE auxiliary loss
  // > 0: keep a moving average of the weights with this decay per step (timm's ModelEma),
  // validated each epoch beside the trained weights; best.pt and inference use it. 0 = off.
  double ema_decay = 0;
  // Steps whose loss or gradients are not finite (NaN, inf) that a run skips (no update, the
  // position moves on) before it stops; 0 = stop at the first, naming the last good checkpoint.
  int64_t skip_nonfinite = 0;
};

enum class Device { kAuto, kCpu, kCuda };  // auto: CUDA when available
inline constexpr EnumNames<Device> kDeviceNames{"auto|cpu|cuda"};

enum class Precision { kFp32, kBf16 };
inline constexpr EnumNames<Precision> kPrecisionNames{"fp32|bf16"};

inline constexpr EnumNames<AutoAugmentKind> kAutoAugmentKindNames{
    "none|randaugment|trivialaugment"};

struct RunConfig {
  int64_t seed = 0;
  Device device = Device::kAuto;
  int64_t threads = 0;  // intra-op threads; 0 = one per core
  std::string output_dir = "runs/default";
  Precision precision = Precision::kFp32;
  int64_t log_every = 20;              // steps between log lines
  int64_t checkpoint_every_steps = 0;  // 0 = at the end of each epoch only
  // Data parallel: rendezvous and each collective give up after this many seconds, so a rank
  // that hangs or dies never hangs the others (a dead peer is usually seen at once).
  int64_t collective_timeout_s = 300;
};

struct Config {
  ModelConfig model;  // model.* and moe.* keys
  DataConfig data;
  OptimConfig optim;
  RunConfig run;
  std::string source;  // the file name, for messages
};

// Reads `path`, applies `overrides` ("key.sub=value", the value parsed as YAML, e.g.
// "moe.blocks=[1,3]"), then `check_config`. Throws std::invalid_argument on any refusal.
Config load_config(const std::string& path, const std::vector<std::string>& overrides);

// As load_config, from text; `source_name` prefixes every message.
Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides);

// Range and cross-field checks (also check_model_config); throws naming the source and key.
void check_config(const Config& config);

// Throws unless data.root names an existing folder; train and eval call it, other commands
// (info) run without data.
void require_data_root(const Config& config);

// The full resolved config as YAML (every key; the unused moe placement rules as comments),
// which parse_config reads back to an equal Config.
std::string dump_config(const Config& config);

// The tables' hooks for to_string and the config reader (ops/enum_names.h).
// clang-format off
constexpr EnumNames<Device> enum_names(Device) { return kDeviceNames; }
constexpr EnumNames<Precision> enum_names(Precision) { return kPrecisionNames; }
constexpr EnumNames<AutoAugmentKind> enum_names(AutoAugmentKind) { return kAutoAugmentKindNames; }
// clang-format on

}  // namespace moevit
