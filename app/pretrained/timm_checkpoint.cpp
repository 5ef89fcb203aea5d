#include "app/pretrained/timm_checkpoint.h"

#include <torch/nn/module.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <stdexcept>
#include <utility>

#include "app/pretrained/safetensors.h"
#include "app/pretrained/timm_layout.h"
#include "app/run/checkpoint.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

using Metadata = std::map<std::string, std::string>;

// The architecture's sizes, by metadata key: export writes each, import checks each it finds
// against the size the tensors show.
const std::vector<std::pair<const char*, int64_t ModelConfig::*>> kSizeKeys = {
    {"dim", &ModelConfig::dim},
    {"depth", &ModelConfig::depth},
    {"mlp_dim", &ModelConfig::mlp_dim},
    {"patch_size", &ModelConfig::patch_size},
    {"image_size", &ModelConfig::image_size},
    {"channels", &ModelConfig::channels},
    {"num_classes", &ModelConfig::num_classes},
};

[[noreturn]] void refuse_metadata(const std::string& path, const std::string& key,
                                  const std::string& problem) {
  throw std::runtime_error(path + ": __metadata__ " + nlohmann::json(key).dump() + ": " + problem);
}

// The metadata value of `key` parsed as JSON, or nullopt when the key is absent.
std::optional<nlohmann::json> metadata_json(const Metadata& metadata, const std::string& key,
                                            const std::string& path) {
  const auto found = metadata.find(key);
  if (found == metadata.end()) return std::nullopt;
  try {
    return nlohmann::json::parse(found->second);
  } catch (const nlohmann::json::parse_error&) {
    refuse_metadata(path, key, "expected JSON, got " + nlohmann::json(found->second).dump());
  }
}

std::optional<int64_t> metadata_positive_int(const Metadata& metadata, const std::string& key,
                                             const std::string& path) {
  const std::optional<nlohmann::json> value = metadata_json(metadata, key, path);
  if (!value) return std::nullopt;
  if (!value->is_number_integer() || value->get<int64_t>() <= 0)
    refuse_metadata(path, key, "expected an integer > 0, got " + value->dump());
  return value->get<int64_t>();
}

std::optional<std::vector<double>> metadata_numbers(const Metadata& metadata,
                                                    const std::string& key,
                                                    const std::string& path) {
  const std::optional<nlohmann::json> value = metadata_json(metadata, key, path);
  if (!value) return std::nullopt;
  bool numbers = value->is_array() && !value->empty();
  if (numbers)
    for (const nlohmann::json& item : *value) numbers = numbers && item.is_number();
  if (!numbers) refuse_metadata(path, key, "expected a list of numbers, got " + value->dump());
  return value->get<std::vector<double>>();
}

std::optional<std::vector<std::string>> metadata_strings(const Metadata& metadata,
                                                         const std::string& key,
                                                         const std::string& path) {
  const std::optional<nlohmann::json> value = metadata_json(metadata, key, path);
  if (!value) return std::nullopt;
  bool strings = value->is_array();
  if (strings)
    for (const nlohmann::json& item : *value)
      strings = strings && item.is_string() && !item.get<std::string>().empty() &&
                item.get<std::string>().find('\n') == std::string::npos;
  if (!strings)
    refuse_metadata(path, key, "expected a list of non-empty one-line names, got " + value->dump());
  return value->get<std::vector<std::string>>();
}

int64_t heads_of(const SafetensorsFile& file, const TimmImportOptions& options,
                 const std::string& path) {
  if (options.heads > 0) return options.heads;
  const std::optional<int64_t> heads = metadata_positive_int(file.metadata, "heads", path);
  if (!heads)
    throw std::invalid_argument(
        path +
        ": the number of attention heads is in no tensor's shape and not in the file's "
        "__metadata__: give --heads N (timm: 3 for ViT-Ti, 6 for ViT-S, 12 for ViT-B)");
  return *heads;
}

// The config of an imported file before the overrides: its architecture, then its metadata's
// preprocessing, else timm's ImageNet defaults (for 3 channels; moevit's for others).
Config imported_config(const ModelConfig& model, const Metadata& metadata,
                       const std::string& path) {
  for (const auto& [key, member] : kSizeKeys) {
    const std::optional<int64_t> recorded = metadata_positive_int(metadata, key, path);
    if (recorded && *recorded != model.*member)
      refuse_metadata(path, key,
                      "says " + std::to_string(*recorded) + ", the tensors' shapes say " +
                          std::to_string(model.*member));
  }
  Config config;
  config.model = model;
  config.source = path;
  if (model.channels == 3) {
    config.data.mean = kImagenetMean;
    config.data.std = kImagenetStd;
    config.data.crop_fraction = kImagenetCropFraction;
  }
  if (auto mean = metadata_numbers(metadata, "mean", path)) config.data.mean = *mean;
  if (auto deviation = metadata_numbers(metadata, "std", path)) config.data.std = *deviation;
  if (const auto crop = metadata_json(metadata, "crop_fraction", path)) {
    if (!crop->is_number())
      refuse_metadata(path, "crop_fraction", "expected a number, got " + crop->dump());
    config.data.crop_fraction = crop->get<double>();
  }
  return config;
}

// The model's parameters by name, detached (no buffer: a model the timm layout expresses is
// dense, and only MoE layers hold buffers).
NamedTensors model_tensors(VisionTransformerImpl& model) {
  NamedTensors tensors;
  for (const auto& item : model.named_parameters())
    tensors.emplace(item.key(), item.value().detach());
  return tensors;
}

}  // namespace

std::map<std::string, std::string> timm_metadata(const Config& config,
                                                 const std::vector<std::string>& class_names) {
  Metadata metadata{{"format", "pt"}};  // as timm's own files say
  metadata["heads"] = std::to_string(config.model.heads);
  for (const auto& [key, member] : kSizeKeys) metadata[key] = std::to_string(config.model.*member);
  metadata["class_names"] = nlohmann::json(class_names).dump();
  metadata["mean"] = nlohmann::json(config.data.mean).dump();
  metadata["std"] = nlohmann::json(config.data.std).dump();
  metadata["crop_fraction"] = nlohmann::json(config.data.crop_fraction).dump();
  return metadata;
}

TimmExport export_timm_safetensors(const std::string& checkpoint_path, const std::string& out_path,
                                   WeightSource source) {
  LoadedModel loaded = load_model(checkpoint_path, {}, source);
  try {
    check_timm_expressible(loaded.config.model);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(checkpoint_path +
                                ": not expressible in timm's ViT layout: " + error.what());
  }
  const NamedTensors timm_tensors =
      moevit_to_timm(model_tensors(*loaded.model), loaded.config.model, checkpoint_path);
  write_safetensors(out_path, timm_tensors, timm_metadata(loaded.config, loaded.class_names));
  TimmExport exported;
  exported.model = loaded.config.model;
  exported.averaged_weights = loaded.averaged_weights;
  exported.tensors = static_cast<int64_t>(timm_tensors.size());
  return exported;
}

TimmImport read_timm_model(const std::string& path, const TimmImportOptions& options,
                           VisionTransformer* model) {
  const SafetensorsFile file = read_safetensors(path);
  const ModelConfig inferred =
      infer_timm_vit_config(file.tensors, heads_of(file, options, path), path);
  TimmImport imported;
  imported.config = parse_config(dump_config(imported_config(inferred, file.metadata, path)), path,
                                 options.overrides);
  // The overrides may touch anything; the tensors must still fit (timm_to_moevit refuses
  // another image size, pooling or router naming the tensor or key).
  const NamedTensors tensors = timm_to_moevit(file.tensors, imported.config.model, path);

  const int64_t num_classes = imported.config.model.num_classes;
  if (!options.class_names.empty()) {
    imported.class_names = options.class_names;
    imported.class_names_from = "--classes";
  } else if (auto names = metadata_strings(file.metadata, "class_names", path)) {
    imported.class_names = *names;
    imported.class_names_from = "metadata";
  } else {
    for (int64_t label = 0; label < num_classes; ++label)
      imported.class_names.push_back("class_" + std::to_string(label));
    imported.class_names_from = "default";
  }
  if (static_cast<int64_t>(imported.class_names.size()) != num_classes)
    throw std::invalid_argument(path + ": " + std::to_string(imported.class_names.size()) +
                                " class names (" + imported.class_names_from + ") for a head of " +
                                std::to_string(num_classes) + " classes");
  if (!model) return imported;

  *model = VisionTransformer(imported.config.model, WeightInit::kOverwrittenByCheckpoint);
  torch::NoGradGuard no_grad;
  const auto parameters = (*model)->named_parameters();
  if (parameters.size() != tensors.size())
    throw std::logic_error(path + ": the timm layout has " + std::to_string(tensors.size()) +
                           " tensors, the model " + std::to_string(parameters.size()));
  for (const auto& item : parameters) {
    const auto found = tensors.find(item.key());
    if (found == tensors.end())
      throw std::logic_error(path + ": the timm layout has no " + tensor_label(item.key()));
    item.value().copy_(found->second);  // F16 / BF16 files widen to the model's float32
  }
  (*model)->eval();
  return imported;
}

TimmImport import_timm_safetensors(const std::string& path, const std::string& checkpoint_path,
                                   const TimmImportOptions& options) {
  VisionTransformer model{nullptr};
  TimmImport imported = read_timm_model(path, options, &model);
  CheckpointState state;
  state.config_yaml = dump_config(imported.config);
  state.class_names = imported.class_names;
  state.initialized_from = path;
  save_checkpoint(checkpoint_path, *model, /*optimizer=*/nullptr, state);
  return imported;
}

std::vector<std::string> read_class_names_file(const std::string& path) {
  std::ifstream stream(path);
  if (!stream) throw std::invalid_argument(path + ": cannot read the class names file");
  std::vector<std::string> names;
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (names.empty()) throw std::invalid_argument(path + ": no class names (expected one per line)");
  return names;
}

}  // namespace moevit
