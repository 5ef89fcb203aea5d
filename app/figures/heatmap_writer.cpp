#include "app/figures/heatmap_writer.h"

#include <torch/utils.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

#include "app/eval/classification.h"
#include "app/figures/canvas.h"
#include "app/figures/expert_by_class.h"
#include "app/figures/heatmap_render.h"
#include "app/figures/heatmap_routing.h"
#include "app/run/atomic_write.h"
#include "app/run/config.h"
#include "app/run/data_setup.h"
#include "app/run/image_files.h"
#include "app/run/runtime.h"
#include "datasets/image_folder.h"
#include "moe/moe_options.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

constexpr int64_t kSummaryPredictions = 3;

// Routing statistics only when asked: this is the one command that keeps every layer's plan.
VitOutput forward_keeping_routing(VisionTransformerImpl& model, const at::Tensor& images,
                                  const Runtime& runtime) {
  AutocastScope autocast(runtime);
  return model.forward(images.to(runtime.device), /*keep_routing=*/true);
}

int64_t leading_tokens(const ModelConfig& config) {
  return config.pooling == Pooling::kClassToken ? 1 : 0;  // the class token comes first
}

// The figure of one image in one layer, and the map its summary sheet shows.
struct LayerFigure {
  cv::Mat page;  // OUT/<stem>_block<b>.png
  cv::Mat map;   // the (dominant) expert map alone
};

LayerFigure layer_figure(const MoeLayerImpl& layer, int64_t block, const PatchExperts& experts,
                         int64_t image, const cv::Mat& picture, int64_t patches_per_side,
                         int patch_pixels) {
  const ExpertAssignment assignment = image_assignment(experts, image, patches_per_side);
  const std::string block_name = "block " + std::to_string(block);
  if (!experts.soft) {
    int64_t dropped = 0, assignments = 0;
    for (const uint8_t flag : assignment.dropped) dropped += flag;
    for (const int64_t count : assignment.experts_per_patch) assignments += count;
    const std::string patches = std::to_string(assignment.expert.size());
    std::vector<std::string> title = {
        block_name, to_string(layer.options().router),
        "capacity factor " + format_option_value(layer.options().eval_capacity_factor)};
    if (assignment.experts_per_patch.empty()) {
      title.push_back("dropped " + std::to_string(dropped) + " of " + patches);
    } else {  // several experts per patch: how many patches got none, and the mean count
      char mean[32];
      std::snprintf(mean, sizeof mean, "%.2f", double(assignments) / assignment.expert.size());
      title.push_back(std::to_string(dropped) + " of " + patches + " without an expert");
      title.push_back(std::string(mean) + " experts per patch");
    }
    const HeatmapFigure map = render_expert_map(picture, assignment, patch_pixels, title);
    return {map.image, map.image};
  }
  const HeatmapFigure map = render_expert_map(
      picture, assignment, patch_pixels,
      {block_name, to_string(layer.options().router), "dominant expert by combine weight"});
  const HeatmapFigure panels = render_dispatch_panels(
      picture, patches_per_side, image_dispatch_maps(experts, image), patch_pixels,
      {"dispatch weight per patch, summed over each expert's " +
       std::to_string(layer.slots_per_expert()) + " slots"});
  return {arrange_tiles({map.image, panels.image}, /*columns=*/2, /*gap=*/0), map.image};
}

// "shirt.png" → "shirt", then "shirt_2", … for later images of the same stem.
std::string unique_stem(const std::string& path, std::map<std::string, int>& seen) {
  const std::string stem = std::filesystem::path(path).stem().string();
  const int count = ++seen[stem];
  return count == 1 ? stem : stem + "_" + std::to_string(count);
}

}  // namespace

std::vector<size_t> select_moe_layers(const VisionTransformerImpl& model, const std::string& spec) {
  const std::vector<int64_t> blocks = moe_block_ids(model.config());
  std::string available;
  for (const int64_t block : blocks)
    available += (available.empty() ? "" : ",") + std::to_string(block);
  if (blocks.empty())
    throw std::invalid_argument("--layers: this model has no MoE layers (moe.router: dense)");
  std::vector<size_t> layers;
  if (spec == "all") {
    for (size_t index = 0; index < blocks.size(); ++index) layers.push_back(index);
    return layers;
  }
  std::istringstream items(spec);
  for (std::string item; std::getline(items, item, ',');) {
    size_t used = 0;
    int64_t block = -1;
    try {
      block = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const auto found = std::find(blocks.begin(), blocks.end(), block);
    if (used == 0 || used != item.size() || found == blocks.end())
      throw std::invalid_argument("--layers: expected all or MoE block ids from {" + available +
                                  "}, got '" + item + "'");
    layers.push_back(static_cast<size_t>(found - blocks.begin()));
  }
  if (layers.empty())
    throw std::invalid_argument("--layers: expected all or MoE block ids from {" + available +
                                "}, got ''");
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());
  return layers;
}

HeatmapFiles write_image_heatmaps(VisionTransformerImpl& model,
                                  const std::vector<std::string>& class_names, const Config& config,
                                  const Runtime& runtime, const std::vector<std::string>& images,
                                  const std::vector<size_t>& layers, const std::string& out_dir,
                                  int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model.eval();
  const ModelConfig& model_config = model.config();
  const int64_t patches_per_side = model_config.patches_per_side();
  const int patch_pixels = heatmap_patch_pixels(patches_per_side, model_config.patch_size);
  const TransformOptions transform = transform_options(config);
  const std::vector<MoeLayer> moe_layers = model.moe_layers();
  const std::unique_ptr<ImageLoader> loader = image_file_loader(images, config, batch_size);
  HeatmapFiles files;
  std::map<std::string, int> stems_seen;
  loader->start_epoch(0);
  while (std::optional<Batch> batch = loader->next_batch()) {
    const int64_t batch_images = batch->images.size(0);
    const VitOutput output = forward_keeping_routing(model, batch->images, runtime);
    const std::vector<std::vector<Prediction>> predictions =
        top_predictions(output.logits, class_names, kSummaryPredictions);
    std::vector<PatchExperts> experts;
    for (const size_t layer : layers)
      experts.push_back(patch_experts(output.routing[layer].routing.plan, batch_images,
                                      leading_tokens(model_config)));
    for (int64_t image = 0; image < batch_images; ++image) {
      const std::string& path = batch->paths[image];
      const std::string stem =
          (std::filesystem::path(out_dir) / unique_stem(path, stems_seen)).string();
      const cv::Mat picture = model_input_picture(batch->images[image], transform);
      std::vector<cv::Mat> maps;
      for (size_t index = 0; index < layers.size(); ++index) {
        const int64_t block = output.routing[layers[index]].block;
        const LayerFigure figure = layer_figure(*moe_layers[layers[index]], block, experts[index],
                                                image, picture, patches_per_side, patch_pixels);
        const std::string page_path = stem + "_block" + std::to_string(block) + ".png";
        write_png(page_path, figure.page);
        files.written.push_back(page_path);
        maps.push_back(figure.map);
      }
      std::vector<std::pair<std::string, double>> top;
      for (const Prediction& prediction : predictions[image])
        top.emplace_back(prediction.label, prediction.probability);
      const std::string summary_path = stem + "_summary.png";
      write_png(summary_path,
                render_summary(picture, patch_pixels, patches_per_side,
                               std::filesystem::path(path).filename().string(), top, maps));
      files.written.push_back(summary_path);
    }
  }
  files.unreadable = loader->summary().skipped;
  return files;
}

HeatmapFiles write_expert_by_class(VisionTransformerImpl& model, const Config& config,
                                   const Runtime& runtime, const std::string& dataset_root,
                                   const std::vector<size_t>& layers, const std::string& out_dir,
                                   const WarningSink& warn) {
  torch::NoGradGuard no_grad;
  model.eval();
  const std::filesystem::path val = std::filesystem::path(dataset_root) / "val";
  const ImageFolder folder =
      scan_image_folder(std::filesystem::is_directory(val) ? val.string() : dataset_root);
  const std::vector<MoeLayer> moe_layers = model.moe_layers();
  const std::vector<int64_t> blocks = moe_block_ids(model.config());
  std::vector<ExpertByClass> matrices;
  for (const size_t layer : layers)
    matrices.emplace_back(blocks[layer], moe_layers[layer]->options().router == RouterKind::kSoft,
                          static_cast<int64_t>(folder.class_names.size()),
                          moe_layers[layer]->options().num_experts);
  ImageLoader loader(folder, transform_options(config), evaluation_loader_options(config), warn);
  loader.start_epoch(0);
  while (std::optional<Batch> batch = loader.next_batch()) {
    const VitOutput output = forward_keeping_routing(model, batch->images, runtime);
    for (size_t index = 0; index < layers.size(); ++index)
      matrices[index].add(patch_experts(output.routing[layers[index]].routing.plan,
                                        batch->images.size(0), leading_tokens(model.config())),
                          batch->labels);
  }
  HeatmapFiles files;
  for (const ExpertByClass& matrix : matrices) {
    const std::string csv_path = (std::filesystem::path(out_dir) /
                                  ("expert_by_class_block" + std::to_string(matrix.block) + ".csv"))
                                     .string();
    write_text_file(csv_path, expert_by_class_csv(matrix, folder.class_names));
    files.written.push_back(csv_path);
  }
  const std::string png_path = (std::filesystem::path(out_dir) / "expert_by_class.png").string();
  write_png(png_path, render_expert_by_class(matrices, folder.class_names));
  files.written.push_back(png_path);
  files.unreadable = loader.summary().skipped;
  return files;
}

}  // namespace moevit
