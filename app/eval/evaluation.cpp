#include "app/eval/evaluation.h"

#include <chrono>
#include <cstdio>

#include "app/run/runtime.h"
#include "datasets/loader.h"
#include "vit/vision_transformer.h"

namespace moevit {

std::vector<double> EvalResult::per_class_accuracy() const {
  std::vector<double> accuracy;
  for (int64_t label = 0; label < confusion.size(0); ++label) {
    const int64_t total = confusion[label].sum().item<int64_t>();
    accuracy.push_back(total ? static_cast<double>(confusion[label][label].item<int64_t>()) / total
                             : 0.0);
  }
  return accuracy;
}

double EvalResult::dense_ffn_branch_rms() const {
  double sum = 0;
  int64_t dense_blocks = 0;
  for (size_t block = 0; block < ffn_sizes.size(); ++block) {
    bool is_moe = false;
    for (const LayerRoutingStats& layer : routing)
      is_moe = is_moe || layer.block == static_cast<int64_t>(block);
    if (is_moe) continue;
    sum += ffn_sizes[block].branch_rms();
    ++dense_blocks;
  }
  return dense_blocks ? sum / dense_blocks : 0.0;
}

std::vector<std::string> EvalResult::routing_warnings() const {
  std::vector<std::string> warnings;
  for (const LayerRoutingStats& layer : routing) {
    if (layer.stats.contributes_little()) {
      char line[320];
      std::snprintf(line, sizeof line,
                    "warning: block %lld: the experts' outputs reach the residual at a mean weight "
                    "of %.3f per token (mean top gate %.3f, %.0f%% of the assignments dropped); "
                    "this MoE layer adds little to the model (docs/results.md)",
                    (long long)layer.block, layer.stats.mean_token_weight(),
                    layer.stats.mean_top_gate(), 100 * layer.stats.dropped_fraction);
      warnings.emplace_back(line);
    }
    if (!layer.stats.concentrated()) continue;
    const double balanced = static_cast<double>(layer.stats.assignments) / layer.stats.tokens /
                            layer.stats.expert_requested.numel();
    char line[320];
    std::snprintf(line, sizeof line,
                  "warning: block %lld: %.0f%% of the tokens chose expert %lld (balanced: %.0f%%) "
                  "and %.0f%% of the assignments were dropped; the router is not spreading "
                  "tokens, so this MoE may do no better than dense (docs/results.md)",
                  (long long)layer.block, 100 * layer.stats.top_expert_token_share(),
                  (long long)layer.stats.top_expert(), 100 * balanced,
                  100 * layer.stats.dropped_fraction);
    warnings.emplace_back(line);
  }
  return warnings;
}

EvalResult evaluate(VisionTransformerImpl& model, ImageLoader& loader, const Runtime& runtime,
                    const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t classes = model.config().num_classes;
  const int64_t top_k = std::min<int64_t>(5, classes);
  torch::NoGradGuard no_grad;
  model.eval();
  EvalResult result;
  result.confusion = torch::zeros({classes, classes}, torch::kLong);
  double loss_sum = 0, top1_hits = 0, top5_hits = 0;
  loader.start_epoch(0);
  while (std::optional<Batch> batch = loader.next_batch()) {
    VitOutput output;
    torch::Tensor logits;
    {
      AutocastScope autocast(runtime);
      const torch::Tensor images = batch->images.to(runtime.device);
      output = model.forward(images, /*keep_routing=*/true, /*measure_branches=*/true);
      logits = output.logits.to(torch::kFloat);
      if (options.average_hflip)
        logits = (logits + model.forward(images.flip({3})).logits.to(torch::kFloat)) / 2;
    }
    logits = logits.cpu();
    const torch::Tensor labels = batch->labels;
    loss_sum += torch::cross_entropy_loss(logits, labels, {}, at::Reduction::Sum).item<double>();
    const torch::Tensor top = std::get<1>(logits.topk(top_k, 1));  // [B, k]
    const torch::Tensor hits = top.eq(labels.unsqueeze(1));
    top1_hits += hits.select(1, 0).sum().item<double>();
    top5_hits += hits.any(1).sum().item<double>();
    result.confusion.view(-1).index_add_(0, labels * classes + top.select(1, 0),
                                         torch::ones({labels.size(0)}, torch::kLong));
    result.images += labels.size(0);
    for (size_t layer = 0; layer < output.routing.size(); ++layer) {
      if (result.routing.size() <= layer)
        result.routing.push_back({output.routing[layer].block, {}});
      result.routing[layer].stats += routing_stats(output.routing[layer].routing.plan);
    }
    result.ffn_sizes.resize(output.ffn_sizes.size());
    for (size_t block = 0; block < output.ffn_sizes.size(); ++block)
      result.ffn_sizes[block] += output.ffn_sizes[block];
  }
  if (result.images > 0) {
    result.loss = loss_sum / result.images;
    result.top1 = top1_hits / result.images;
    result.top5 = top5_hits / result.images;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace moevit
