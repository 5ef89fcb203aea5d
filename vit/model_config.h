// Everything that defines a model's architecture, in one typed struct. Read from YAML in
// app/run/config; checked once by `check_model_config` when the model is built.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moe/moe_options.h"
#include "ops/enum_names.h"

namespace moevit {

enum class Pooling { kGlobalAverage, kClassToken };
inline constexpr EnumNames<Pooling> kPoolingNames{"gap|token"};

// How images become tokens (vit/patch_embed.h): one P×P convolution, or a small conv stem.
enum class Stem { kPatch, kConv };
inline constexpr EnumNames<Stem> kStemNames{"patch|conv"};

// Self-attention's form (vit/attention.h): timm's, or Locality Self-Attention (Lee et al. 2021,
// "Vision Transformer for Small-Size Datasets", §3.2): a learned temperature per head and no
// attention of a token to itself.
enum class AttentionKind { kStandard, kLocalitySelf };
inline constexpr EnumNames<AttentionKind> kAttentionKindNames{"standard|lsa"};

// Which transformer blocks get an MoE layer instead of the dense FFN (0-based block ids).
// Exactly one rule is used: an explicit list if non-empty, else `last` if > 0, else `every`.
struct MoePlacement {
  int64_t every = 2;            // every 2 → blocks 1, 3, 5, … (vmoe "every 2")
  int64_t last = 0;             // last N → the last N odd blocks (vmoe "last n")
  std::vector<int64_t> blocks;  // explicit block ids
};

struct ModelConfig {
  int64_t image_size = 28;  // H = W, divisible by patch_size, e.g. 28 or 224
  int64_t patch_size = 4;   // P, e.g. 4 or 16
  int64_t channels = 1;     // 1 (grayscale) or 3 (RGB)
  int64_t dim = 192;        // D, token width
  int64_t depth = 6;        // number of transformer blocks
  int64_t heads = 3;        // attention heads; dim % heads == 0
  int64_t mlp_dim = 768;    // H, hidden width of the dense FFN (and of each expert, by default)
  int64_t num_classes = 10;
  Pooling pooling = Pooling::kGlobalAverage;
  Stem stem = Stem::kPatch;  // conv needs patch_size a power of two
  double dropout = 0.0;      // on attention output and FFN output
  double drop_path = 0.0;    // stochastic depth at the last block, rising from 0 (timm)
  // Whether stochastic depth also drops the MoE blocks' FFN branch. Dropping it trains the model
  // to do without its experts, which is what cutting them at evaluation measures
  // (docs/results.md); false keeps the drop on their attention branch only.
  bool drop_path_moe = true;
  MoeOptions moe;  // moe.router == kDense means no MoE blocks at all
  // standard or lsa; lsa needs at least 2 tokens
  AttentionKind attention = AttentionKind::kStandard;
  MoePlacement placement;

  int64_t patches_per_side() const { return image_size / patch_size; }
  int64_t num_patches() const { return patches_per_side() * patches_per_side(); }
  int64_t num_tokens() const { return num_patches() + (pooling == Pooling::kClassToken ? 1 : 0); }
  int64_t expert_mlp_dim() const { return moe.expert_mlp_dim > 0 ? moe.expert_mlp_dim : mlp_dim; }
};

// Throws std::invalid_argument naming the key, e.g. "model.image_size: expected a multiple of
// model.patch_size (4), got 30".
void check_model_config(const ModelConfig& config);

// The 0-based ids of the blocks that hold an MoE layer (empty for dense models).
std::vector<int64_t> moe_block_ids(const ModelConfig& config);

// The tables' hooks for to_string and the config reader (ops/enum_names.h).
// clang-format off
constexpr EnumNames<Pooling> enum_names(Pooling) { return kPoolingNames; }
constexpr EnumNames<Stem> enum_names(Stem) { return kStemNames; }
constexpr EnumNames<AttentionKind> enum_names(AttentionKind) { return kAttentionKindNames; }
// clang-format on

}  // namespace moevit
