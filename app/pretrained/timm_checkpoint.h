// A moevit checkpoint as a timm ViT safetensors file, and back (`moevit export`, `moevit import`).
// The tensors go through the renaming of app/pretrained/timm_layout.h untouched; what no tensor's
// shape says (the attention heads, the class names, the preprocessing) travels in the file's
// "__metadata__", a string → string map, under these keys (numbers and lists as JSON text):
//   heads dim depth mlp_dim patch_size image_size channels num_classes   e.g. "heads": "3"
//   class_names                            a JSON array of strings, e.g. "[\"cat\",\"dog\"]"
//   mean std                               data.mean, data.std, e.g. "[0.5]"
//   crop_fraction                          data.crop_fraction, e.g. "0.875"
// A file from the Hub carries none of them (timm writes {"format": "pt"}): the import then takes
// the heads from the caller, class_0 ... class_N-1, and timm's ImageNet preprocessing.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "app/run/config.h"
#include "app/run/model_loading.h"

namespace moevit {

// timm's ImageNet defaults (timm/data/constants.py: IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD,
// DEFAULT_CROP_PCT), the preprocessing of an imported file whose metadata says none.
inline const std::vector<double> kImagenetMean{0.485, 0.456, 0.406};
inline const std::vector<double> kImagenetStd{0.229, 0.224, 0.225};
constexpr double kImagenetCropFraction = 0.875;

// The metadata export writes for a model of `config` with these class names.
std::map<std::string, std::string> timm_metadata(const Config& config,
                                                 const std::vector<std::string>& class_names);

struct TimmExport {
  ModelConfig model;              // the exported architecture
  bool averaged_weights = false;  // the run's moving average of the weights was written
  int64_t tensors = 0;            // tensors written
};

// Writes the weights of `checkpoint_path` (those `source` picks, as load_model) to `out_path` in
// timm's layout with timm_metadata. A model the layout cannot express is refused in one line
// (std::invalid_argument "CKPT: not expressible in timm's ViT layout: KEY: ..."), before any
// file is written.
TimmExport export_timm_safetensors(const std::string& checkpoint_path, const std::string& out_path,
                                   WeightSource source = WeightSource::kAuto);

struct TimmImportOptions {
  int64_t heads = 0;                     // > 0 wins over the metadata's; 0: the metadata's
  std::vector<std::string> class_names;  // non-empty wins; else the metadata's, else class_i
  std::vector<std::string> overrides;    // --set key=value, applied last (e.g. data.mean=[0.5])
};

struct TimmImport {
  Config config;  // the config the checkpoint holds
  std::vector<std::string> class_names;
  std::string class_names_from;  // "--classes", "metadata" or "default"
};

// Reads a timm ViT safetensors file (app/pretrained/safetensors.h: untrusted, checked whole),
// infers its architecture, and builds the model it describes with its weights (float32). The
// heads come from options or the metadata; neither is refused in one line naming --heads.
// A metadata entry that contradicts the tensors, a class-name count other than num_classes or
// an override that changes the architecture is refused naming it. `model` may be null.
TimmImport read_timm_model(const std::string& path, const TimmImportOptions& options,
                           VisionTransformer* model);

// read_timm_model, then a weights-only checkpoint (no optimizer state, epoch and step 0) at
// `checkpoint_path`, which eval, classify and heatmap load like any other.
TimmImport import_timm_safetensors(const std::string& path, const std::string& checkpoint_path,
                                   const TimmImportOptions& options);

// One class name per line of `path`, blank lines and trailing '\r' dropped; an unreadable or
// empty file is refused naming it.
std::vector<std::string> read_class_names_file(const std::string& path);

}  // namespace moevit
