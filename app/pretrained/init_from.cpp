#include "app/pretrained/init_from.h"

#include <torch/utils.h>

#include <map>
#include <set>
#include <stdexcept>
#include <utility>

#include "app/pretrained/position_resample.h"
#include "app/pretrained/safetensors.h"
#include "app/pretrained/timm_checkpoint.h"
#include "app/pretrained/upcycle.h"
#include "app/run/model_loading.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

struct SourceModel {
  ModelConfig config;
  NamedTensors tensors;  // by moevit's parameter names
};

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

SourceModel read_source(const std::string& path, const ModelConfig& target) {
  VisionTransformer model{nullptr};
  SourceModel source;
  if (ends_with(path, ".safetensors")) {
    TimmImportOptions options;
    options.heads = target.heads;  // in no tensor's shape: the copy does not depend on it
    source.config = read_timm_model(path, options, &model).config.model;
  } else {
    LoadedModel loaded = load_model(path, {});
    model = loaded.model;
    source.config = loaded.config.model;
  }
  for (const auto& item : model->named_parameters())
    source.tensors.emplace(item.key(), item.value().detach());
  return source;
}

std::string grid_text(int64_t grid) {
  return std::to_string(grid) + "×" + std::to_string(grid);
}

// "blocks.3.moe.experts.fc1_weight" → "blocks.3."; "" for names outside an MoE layer.
std::string moe_block_prefix(const std::string& name) {
  const size_t moe = name.find(".moe.");
  return starts_with(name, "blocks.") && moe != std::string::npos ? name.substr(0, moe + 1) : "";
}

class Initializer {
 public:
  Initializer(std::string path, SourceModel source, const ModelConfig& target)
      : path_(std::move(path)), source_(std::move(source)), target_(target) {}

  // The tensor `name` of the target gets, or an undefined tensor to keep its fresh value.
  torch::Tensor value_for(const std::string& name, const torch::Tensor& parameter) {
    if (name == "position_embedding") return positions(parameter);
    if (starts_with(name, "head.") && parameter.sizes() != source_shape(name)) {
      fresh_head_ = true;
      used_.insert(name);
      return {};
    }
    const std::string block = moe_block_prefix(name);
    if (!block.empty() && !source_.tensors.count(name)) return upcycled(block, name, parameter);
    return same(name, parameter);
  }

  // One line per adaptation; refuses a file tensor that found no place.
  std::vector<std::string> finish() {
    for (const auto& item : source_.tensors)
      if (!used_.count(item.first))
        throw std::runtime_error(path_ + ": " + tensor_label(item.first) +
                                 ": the run's model has no place for it (another stem, "
                                 "attention, pooling or an MoE block the run has dense?)");
    std::vector<std::string> lines = lines_;
    if (fresh_head_)
      lines.push_back("init: a fresh head (" + std::to_string(target_.num_classes) +
                      " classes; the file's has " + std::to_string(source_.config.num_classes) +
                      ")");
    if (!upcycled_blocks_.empty()) {
      const int64_t width = target_.expert_mlp_dim(), dense = source_.config.mlp_dim;
      std::string blocks;
      for (const std::string& block : upcycled_blocks_)
        blocks += (blocks.empty() ? "" : ", ") + block.substr(7, block.size() - 8);
      std::string line = "init: blocks " + blocks +
                         " upcycled: " + std::to_string(target_.moe.num_experts) + " experts each ";
      line += width == dense
                  ? "a copy of the block's dense FFN (width " + std::to_string(dense) + ")"
                  : "the hidden units [(e mod " + std::to_string(dense / width) + ")·" +
                        std::to_string(width) + ", +" + std::to_string(width) +
                        ") of the dense FFN's " + std::to_string(dense) +
                        " (fc1 rows, fc2 columns, fc2's whole bias)";
      if (target_.moe.shared_experts > 0) line += "; the shared experts copy it too";
      lines.push_back(line + "; routers fresh");
    }
    return lines;
  }

 private:
  c10::IntArrayRef source_shape(const std::string& name) {
    const auto found = source_.tensors.find(name);
    if (found == source_.tensors.end())
      throw std::runtime_error(path_ + ": " + tensor_label(name) +
                               ": missing: the run's model has it");
    return found->second.sizes();
  }

  torch::Tensor same(const std::string& name, const torch::Tensor& parameter) {
    if (parameter.sizes() != source_shape(name))
      throw std::runtime_error(path_ + ": " + tensor_label(name) + ": expected shape " +
                               c10::str(parameter.sizes()) + " (the run's model), got " +
                               c10::str(source_shape(name)));
    used_.insert(name);
    return source_.tensors.at(name);
  }

  torch::Tensor positions(const torch::Tensor& parameter) {
    const std::string name = "position_embedding";
    const torch::Tensor& from = source_.tensors.count(name) ? source_.tensors.at(name) : parameter;
    if (from.sizes() == parameter.sizes()) return same(name, parameter);
    const int64_t class_tokens = source_.config.pooling == Pooling::kClassToken ? 1 : 0;
    if (class_tokens != (target_.pooling == Pooling::kClassToken ? 1 : 0) ||
        from.size(2) != parameter.size(2))
      return same(name, parameter);  // refused there, naming both shapes
    used_.insert(name);
    lines_.push_back("init: position embeddings resampled from a " +
                     grid_text(source_.config.patches_per_side()) + " to a " +
                     grid_text(target_.patches_per_side()) +
                     " patch grid (bilinear, class token kept)");
    return resample_position_embedding(from, class_tokens, target_.patches_per_side());
  }

  // An MoE layer's tensor where the file has the block dense: experts from its FFN, router fresh.
  torch::Tensor upcycled(const std::string& block, const std::string& name,
                         const torch::Tensor& parameter) {
    const std::string mlp = block + "mlp.";
    if (!source_.tensors.count(mlp + "fc1.weight")) return same(name, parameter);  // refused
    const DenseFfnWeights dense{same(mlp + "fc1.weight", source_.tensors.at(mlp + "fc1.weight")),
                                same(mlp + "fc1.bias", source_.tensors.at(mlp + "fc1.bias")),
                                same(mlp + "fc2.weight", source_.tensors.at(mlp + "fc2.weight")),
                                same(mlp + "fc2.bias", source_.tensors.at(mlp + "fc2.bias"))};
    if (upcycled_blocks_.empty() || upcycled_blocks_.back() != block)
      upcycled_blocks_.push_back(block);
    const std::string local = name.substr(block.size() + 4);  // after "moe."
    ExpertWeights experts;
    if (starts_with(local, "experts."))
      experts = experts_from_dense(dense, target_.moe.num_experts, target_.expert_mlp_dim(),
                                   "moe.expert_mlp_dim");
    else if (starts_with(local, "shared_experts."))
      experts = shared_experts_from_dense(dense, target_.moe.shared_experts,
                                          target_.moe.shared_expert_mlp_dim > 0
                                              ? target_.moe.shared_expert_mlp_dim
                                              : target_.expert_mlp_dim());
    else
      return {};  // the router's weights (router_weight, or soft's phi and scale): fresh
    const std::map<std::string, torch::Tensor> by_name = {{"fc1_weight", experts.fc1_weight},
                                                          {"fc1_bias", experts.fc1_bias},
                                                          {"fc2_weight", experts.fc2_weight},
                                                          {"fc2_bias", experts.fc2_bias}};
    const torch::Tensor value = by_name.at(local.substr(local.find('.') + 1));
    TORCH_CHECK(value.sizes() == parameter.sizes(), "upcycled ", name, ": ", value.sizes(),
                " for a parameter of ", parameter.sizes());
    return value;
  }

  std::string path_;
  SourceModel source_;
  ModelConfig target_;
  std::set<std::string> used_;
  std::vector<std::string> lines_;
  std::vector<std::string> upcycled_blocks_;  // "blocks.3.", in order
  bool fresh_head_ = false;
};

}  // namespace

std::vector<std::string> initialize_from(const std::string& path, VisionTransformerImpl& model) {
  Initializer initializer(path, read_source(path, model.config()), model.config());
  // Every value first, every copy after: a refusal leaves the model as it was.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (const auto& item : model.named_parameters()) {
    torch::Tensor value = initializer.value_for(item.key(), item.value());
    if (value.defined()) copies.emplace_back(item.value(), value);
  }
  std::vector<std::string> lines = initializer.finish();
  torch::NoGradGuard no_grad;
  for (auto& [parameter, value] : copies) parameter.copy_(value);
  return lines;
}

}  // namespace moevit
