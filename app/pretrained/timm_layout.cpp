#include "app/pretrained/timm_layout.h"

#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>
#include <stdexcept>

#include "moe/moe_options.h"

namespace moevit {

namespace {

[[noreturn]] void refuse_tensor(const std::string& source, const std::string& name,
                                const std::string& problem) {
  throw std::runtime_error(source + ": " + tensor_label(name) + ": " + problem);
}

std::string shape_text(c10::IntArrayRef shape) {
  return c10::str(shape);
}

// timm ViT options moevit's ViT has no counterpart for, by a fragment of the names of the tensors
// they add (timm/models/vision_transformer.py): an unknown tensor's refusal says which it is.
struct TimmFeature {
  const char* name_fragment;
  const char* feature;
};
constexpr TimmFeature kTimmFeaturesMoevitLacks[] = {
    {"fc_norm.", "timm's fc_norm after average pooling (moevit's gap pools after its norm)"},
    {".ls1.", "timm's layer scale (init_values)"},
    {".ls2.", "timm's layer scale (init_values)"},
    {"reg_token", "timm's register tokens"},
    {".q_norm.", "timm's qk-norm"},
    {".k_norm.", "timm's qk-norm"},
    {".attn.norm.", "timm's scale_attn_norm"},
    {".mlp.norm.", "timm's scale_mlp_norm"},
    {"norm_pre.", "timm's pre-norm before the blocks (CLIP-style)"},
    {"attn_pool.", "timm's attention pooling (global_pool 'map')"},
    {"pre_logits.", "timm's pre-logits layer (representation_size)"},
    {"dist_token", "DeiT's distillation token"},
    {"head_dist.", "DeiT's distillation head"},
};

std::string timm_feature_hint(const std::string& name) {
  for (const TimmFeature& known : kTimmFeaturesMoevitLacks)
    if (name.find(known.name_fragment) != std::string::npos)
      return std::string(" (") + known.feature + ", which moevit's ViT does not have)";
  return "";
}

// The largest blocks.<i> index + 1 among the names; names whose index is not a short decimal are
// left for the layout check to refuse as unknown.
int64_t block_count(const NamedTensors& tensors) {
  const std::string prefix = "blocks.";
  constexpr size_t kMaxIndexDigits = 4;
  int64_t count = 0;
  for (const auto& item : tensors) {
    const std::string& name = item.first;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos) continue;
    const std::string index = name.substr(prefix.size(), dot - prefix.size());
    if (index.empty() || index.size() > kMaxIndexDigits ||
        !std::all_of(index.begin(), index.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    count = std::max<int64_t>(count, std::stoll(index) + 1);
  }
  return count;
}

// More position embeddings than any image has patches; bounds integer_sqrt's squares.
constexpr int64_t kMaxTokens = int64_t{1} << 40;

// ⌊√value⌋ for 0 <= value <= kMaxTokens.
int64_t integer_sqrt(int64_t value) {
  int64_t root = static_cast<int64_t>(std::sqrt(static_cast<double>(value)));
  while (root * root > value) --root;
  while ((root + 1) * (root + 1) <= value) ++root;
  return root;
}

// What the refusals call the model a timm state dict should be: the sizes its tensors show.
std::string timm_vit_description(const ModelConfig& config) {
  return "a timm ViT of depth " + std::to_string(config.depth) + ", dim " +
         std::to_string(config.dim) + ", mlp_dim " + std::to_string(config.mlp_dim) + ", " +
         std::to_string(config.num_classes) + " classes";
}

enum class Side { kTimm, kMoevit };

const std::string& name_on(const TimmLayoutEntry& entry, Side side) {
  return side == Side::kTimm ? entry.timm_name : entry.moevit_name;
}

// The one renaming both directions share: every tensor of `from`'s side of the layout present,
// floating point and of the layout's shape, nothing else present; then each under its other name.
NamedTensors rename_layout(const NamedTensors& tensors, const ModelConfig& config,
                           const std::string& source, Side from) {
  check_timm_expressible(config);
  const std::vector<TimmLayoutEntry> layout = timm_vit_layout(config);
  const std::string model = from == Side::kTimm ? timm_vit_description(config)
                                                : std::string("the moevit ViT of this config");
  std::set<std::string> expected_names;
  for (const TimmLayoutEntry& entry : layout) expected_names.insert(name_on(entry, from));
  // Unknown tensors first: a timm option moevit lacks shows as one (layer scale's ls1.gamma),
  // and its name says more than the tensor it displaces would.
  for (const auto& item : tensors)
    if (expected_names.count(item.first) == 0)
      refuse_tensor(source, item.first,
                    "not in " + model + (from == Side::kTimm ? timm_feature_hint(item.first) : ""));
  const Side to = from == Side::kTimm ? Side::kMoevit : Side::kTimm;
  NamedTensors renamed;
  for (const TimmLayoutEntry& entry : layout) {
    const std::string& name = name_on(entry, from);
    const auto found = tensors.find(name);
    if (found == tensors.end() || !found->second.defined())
      refuse_tensor(source, name, "missing: " + model + " has it");
    const torch::Tensor& tensor = found->second;
    if (!tensor.is_floating_point())
      refuse_tensor(source, name,
                    std::string("expected a floating-point tensor, got ") +
                        c10::toString(tensor.scalar_type()));
    if (tensor.sizes() != c10::IntArrayRef(entry.shape))
      refuse_tensor(source, name,
                    "expected shape " + shape_text(entry.shape) + " (" + model + "), got " +
                        shape_text(tensor.sizes()));
    renamed.emplace(name_on(entry, to), tensor);
  }
  return renamed;
}

}  // namespace

void check_timm_expressible(const ModelConfig& config) {
  check_model_config(config);
  require_option(config.stem == Stem::kPatch, "model.stem",
                 "patch (timm's ViT embeds patches with one P×P convolution)",
                 to_string(config.stem));
  require_option(config.attention == AttentionKind::kStandard, "model.attention",
                 "standard (timm's ViT has no learned per-head scale or masked diagonal)",
                 to_string(config.attention));
  require_option(config.moe.router == RouterKind::kDense, "moe.router",
                 "dense (timm's ViT has no MoE blocks)", to_string(config.moe.router));
  require_option(config.pooling == Pooling::kClassToken, "model.pooling",
                 "token (moevit's gap normalises every token then averages; timm's avg pooling "
                 "averages then applies fc_norm: not the same function)",
                 to_string(config.pooling));
}

std::vector<TimmLayoutEntry> timm_vit_layout(const ModelConfig& config) {
  const int64_t dim = config.dim, hidden = config.mlp_dim, patch = config.patch_size;
  std::vector<TimmLayoutEntry> layout;
  const auto add = [&](const std::string& timm_name, const std::string& moevit_name,
                       std::vector<int64_t> shape) {
    layout.push_back({timm_name, moevit_name, std::move(shape)});
  };
  // A layer's weight and bias, under `prefix` + its name on each side.
  const auto add_layer = [&](const std::string& prefix, const std::string& timm_layer,
                             const std::string& moevit_layer, std::vector<int64_t> weight_shape,
                             int64_t bias_size) {
    add(prefix + timm_layer + ".weight", prefix + moevit_layer + ".weight",
        std::move(weight_shape));
    add(prefix + timm_layer + ".bias", prefix + moevit_layer + ".bias", {bias_size});
  };
  add("cls_token", "class_token", {1, 1, dim});
  add("pos_embed", "position_embedding", {1, config.num_tokens(), dim});
  add_layer("", "patch_embed.proj", "patch_embed.projection", {dim, config.channels, patch, patch},
            dim);
  for (int64_t block = 0; block < config.depth; ++block) {
    const std::string prefix = "blocks." + std::to_string(block) + ".";
    add_layer(prefix, "norm1", "norm1", {dim}, dim);
    add_layer(prefix, "attn.qkv", "attention.qkv", {3 * dim, dim}, 3 * dim);
    add_layer(prefix, "attn.proj", "attention.projection", {dim, dim}, dim);
    add_layer(prefix, "norm2", "norm2", {dim}, dim);
    add_layer(prefix, "mlp.fc1", "mlp.fc1", {hidden, dim}, hidden);
    add_layer(prefix, "mlp.fc2", "mlp.fc2", {dim, hidden}, dim);
  }
  add_layer("", "norm", "norm", {dim}, dim);
  add_layer("", "head", "head", {config.num_classes, dim}, config.num_classes);
  return layout;
}

ModelConfig infer_timm_vit_config(const NamedTensors& timm_tensors, int64_t heads,
                                  const std::string& source) {
  const auto required = [&](const std::string& name, int64_t dims,
                            const char* expected) -> const torch::Tensor& {
    const auto found = timm_tensors.find(name);
    if (found == timm_tensors.end() || !found->second.defined())
      refuse_tensor(source, name, "missing: moevit reads timm ViTs that have it");
    if (found->second.dim() != dims)
      refuse_tensor(
          source, name,
          std::string("expected ") + expected + ", got " + shape_text(found->second.sizes()));
    return found->second;
  };
  ModelConfig config;
  const torch::Tensor& patch = required("patch_embed.proj.weight", 4, "[dim, channels, P, P]");
  if (patch.size(2) != patch.size(3))
    refuse_tensor(source, "patch_embed.proj.weight",
                  "expected a square P×P patch, got " + shape_text(patch.sizes()));
  config.dim = patch.size(0);
  config.channels = patch.size(1);
  config.patch_size = patch.size(2);
  // timm ViTs without a class token pool by averaging, with fc_norm: not moevit's gap.
  required("cls_token", 3, "[1, 1, dim]");
  const torch::Tensor& positions = required("pos_embed", 3, "[1, 1 + grid², dim]");
  const int64_t tokens = positions.size(1);
  if (tokens > kMaxTokens)
    refuse_tensor(source, "pos_embed",
                  "expected at most 2^40 tokens, got " + shape_text(positions.sizes()));
  const int64_t grid = integer_sqrt(std::max<int64_t>(tokens - 1, 0));
  if (tokens < 2 || grid * grid != tokens - 1) {
    // timm's no_embed_class: positions for the patches only, the class token added after.
    const bool patches_only = integer_sqrt(tokens) * integer_sqrt(tokens) == tokens;
    refuse_tensor(source, "pos_embed",
                  "expected 1 + grid² tokens (the class token's position, then a square patch "
                  "grid's), got " +
                      std::to_string(tokens) +
                      (patches_only ? ", a square grid alone: timm's no_embed_class, which "
                                      "moevit's ViT does not have"
                                    : ""));
  }
  config.image_size = grid * config.patch_size;
  config.depth = block_count(timm_tensors);
  if (config.depth == 0)
    refuse_tensor(source, "blocks.0.norm1.weight", "missing: no transformer block (blocks.0.*)");
  config.mlp_dim = required("blocks.0.mlp.fc1.weight", 2, "[mlp_dim, dim]").size(0);
  config.num_classes = required("head.weight", 2, "[num_classes, dim]").size(0);
  config.heads = heads;
  config.pooling = Pooling::kClassToken;
  config.stem = Stem::kPatch;
  config.attention = AttentionKind::kStandard;
  config.moe.router = RouterKind::kDense;
  try {
    check_model_config(config);
  } catch (const std::invalid_argument& error) {  // e.g. heads not dividing dim, 2 channels
    throw std::invalid_argument(source + ": " + error.what());
  }
  return config;
}

NamedTensors timm_to_moevit(const NamedTensors& timm_tensors, const ModelConfig& config,
                            const std::string& source) {
  return rename_layout(timm_tensors, config, source, Side::kTimm);
}

NamedTensors moevit_to_timm(const NamedTensors& moevit_tensors, const ModelConfig& config,
                            const std::string& source) {
  return rename_layout(moevit_tensors, config, source, Side::kMoevit);
}

}  // namespace moevit
