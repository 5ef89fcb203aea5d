// The work of `moevit heatmap`: run images through the model keeping every MoE layer's plan,
// and write the figures — per image and layer an expert map (soft: plus dispatch panels), per
// image a summary sheet, and over a labelled data set the expert-by-class matrices.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "datasets/loader.h"

namespace moevit {

struct Config;
struct Runtime;
class VisionTransformerImpl;

// "all", or comma-separated block ids of MoE layers ("1,3") → indices into model.moe_layers(),
// ascending. Throws std::invalid_argument naming --layers and the model's MoE blocks.
std::vector<size_t> select_moe_layers(const VisionTransformerImpl& model, const std::string& spec);

struct HeatmapFiles {
  std::vector<std::string> written;      // every file written, in order
  std::vector<SkippedImage> unreadable;  // images that could not be read
};

// Per readable image: OUT/<stem>_block<b>.png for each layer in `layers` and
// OUT/<stem>_summary.png (a stem seen before gets "_2", "_3", …). `batch_size` images are
// routed together, as in evaluation.
HeatmapFiles write_image_heatmaps(VisionTransformerImpl& model,
                                  const std::vector<std::string>& class_names, const Config& config,
                                  const Runtime& runtime, const std::vector<std::string>& images,
                                  const std::vector<size_t>& layers, const std::string& out_dir,
                                  int64_t batch_size);

// Over DATASET (a folder of class folders, or a root with val/), in eval mode:
// OUT/expert_by_class.png and OUT/expert_by_class_block<b>.csv per layer in `layers`.
// Unreadable images are skipped and reported through `warn`.
HeatmapFiles write_expert_by_class(VisionTransformerImpl& model, const Config& config,
                                   const Runtime& runtime, const std::string& dataset_root,
                                   const std::vector<size_t>& layers, const std::string& out_dir,
                                   const WarningSink& warn);

}  // namespace moevit
