// Classifying image files with a loaded model: each file through the eval transform, in
// batches, softmax in float32, the top predictions kept per image.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/loader.h"

namespace moevit {

struct Config;
struct Runtime;
class VisionTransformerImpl;

struct Prediction {
  std::string label;   // a class name, e.g. "Sneaker"
  double probability;  // softmax of the logits, float32
};

struct ImageClassification {
  std::string path;
  std::vector<Prediction> top;  // best first
};

struct ClassificationResult {
  std::vector<ImageClassification> images;  // in the order of the paths, unreadable ones left out
  std::vector<SkippedImage> unreadable;     // each with the reason it could not be read
};

// logits [B, classes] → per image the `top_k` (at most `classes`) most probable classes.
std::vector<std::vector<Prediction>> top_predictions(const at::Tensor& logits,
                                                     const std::vector<std::string>& class_names,
                                                     int64_t top_k);

// Runs `paths` through `model` (in eval mode, on runtime.device) `batch_size` images at a time.
ClassificationResult classify_files(VisionTransformerImpl& model,
                                    const std::vector<std::string>& class_names,
                                    const Config& config, const Runtime& runtime,
                                    const std::vector<std::string>& paths, int64_t top_k,
                                    int64_t batch_size);

// [{"file": path, "top": [{"label": name, "probability": p}, ...]}, ...]
nlohmann::json classification_json(const std::vector<ImageClassification>& images);

}  // namespace moevit
