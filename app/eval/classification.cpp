#include "app/eval/classification.h"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <stdexcept>

#include "app/run/image_files.h"
#include "app/run/runtime.h"
#include "vit/vision_transformer.h"

namespace moevit {

std::vector<std::vector<Prediction>> top_predictions(const at::Tensor& logits,
                                                     const std::vector<std::string>& class_names,
                                                     int64_t top_k) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(1) == static_cast<int64_t>(class_names.size()),
              "top_predictions: expected logits [B, ", class_names.size(), "], got ",
              logits.sizes());
  const int64_t k = std::min<int64_t>(top_k, logits.size(1));
  // float32 softmax whatever the model computed in (bf16 logits would round probabilities).
  const at::Tensor probabilities = at::softmax(logits.detach().to(at::kFloat).cpu(), 1);
  const auto [values, indices] = probabilities.topk(k, 1);
  const auto value = values.accessor<float, 2>();
  const auto index = indices.accessor<int64_t, 2>();
  std::vector<std::vector<Prediction>> predictions(static_cast<size_t>(logits.size(0)));
  for (int64_t image = 0; image < logits.size(0); ++image)
    for (int64_t rank = 0; rank < k; ++rank)
      predictions[image].push_back({class_names[index[image][rank]], value[image][rank]});
  return predictions;
}

ClassificationResult classify_files(VisionTransformerImpl& model,
                                    const std::vector<std::string>& class_names,
                                    const Config& config, const Runtime& runtime,
                                    const std::vector<std::string>& paths, int64_t top_k,
                                    int64_t batch_size) {
  if (top_k < 1)
    throw std::invalid_argument("--top: expected a number >= 1, got " + std::to_string(top_k));
  if (batch_size < 1)
    throw std::invalid_argument("--batch: expected a number >= 1, got " +
                                std::to_string(batch_size));
  torch::NoGradGuard no_grad;
  model.eval();
  const std::unique_ptr<ImageLoader> loader = image_file_loader(paths, config, batch_size);
  ClassificationResult result;
  loader->start_epoch(0);
  while (std::optional<Batch> batch = loader->next_batch()) {
    at::Tensor logits;
    {
      AutocastScope autocast(runtime);
      logits = model.forward(batch->images.to(runtime.device)).logits;
    }
    const std::vector<std::vector<Prediction>> top = top_predictions(logits, class_names, top_k);
    for (size_t image = 0; image < top.size(); ++image)
      result.images.push_back({batch->paths[image], top[image]});
  }
  result.unreadable = loader->summary().skipped;
  return result;
}

nlohmann::json classification_json(const std::vector<ImageClassification>& images) {
  nlohmann::json array = nlohmann::json::array();
  for (const ImageClassification& image : images) {
    nlohmann::json top = nlohmann::json::array();
    for (const Prediction& prediction : image.top)
      top.push_back({{"label", prediction.label}, {"probability", prediction.probability}});
    array.push_back({{"file", image.path}, {"top", top}});
  }
  return array;
}

}  // namespace moevit
