#include "app/run/checkpoint.h"

#include <torch/serialize.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "app/run/atomic_write.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

constexpr const char* kFormatKey = "moevit_checkpoint_version";
constexpr const char* kAveragedKey = "model_ema";

std::string join_lines(const std::vector<std::string>& lines) {
  std::string joined;
  for (const std::string& line : lines) joined += line + "\n";
  return joined;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

torch::serialize::InputArchive open_checkpoint(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw std::invalid_argument(path + ": no such checkpoint file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& error) {
    throw std::runtime_error(path + ": not a readable moevit checkpoint (" +
                             split_lines(error.what_without_backtrace()).front() + ")");
  }
  c10::IValue version;
  if (!archive.try_read(kFormatKey, version) || !version.isInt())
    throw std::runtime_error(path + ": not a moevit checkpoint (no " + kFormatKey + ")");
  if (version.toInt() > kCheckpointVersion)
    throw std::runtime_error(path + ": checkpoint format " + std::to_string(version.toInt()) +
                             " is newer than this moevit (" + std::to_string(kCheckpointVersion) +
                             "); upgrade moevit");
  return archive;
}

}  // namespace

void save_checkpoint(const std::string& path, VisionTransformerImpl& model,
                     torch::optim::Optimizer* optimizer, const CheckpointState& state,
                     VisionTransformerImpl* averaged) {
  torch::serialize::OutputArchive archive;
  archive.write(kFormatKey, c10::IValue(kCheckpointVersion));
  archive.write("config_yaml", c10::IValue(state.config_yaml));
  archive.write("class_names", c10::IValue(join_lines(state.class_names)));
  archive.write("epoch", c10::IValue(state.epoch));
  archive.write("step", c10::IValue(state.step));
  archive.write("batches_into_epoch", c10::IValue(state.batches_into_epoch));
  archive.write("best_top1", c10::IValue(state.best_top1));
  if (state.rng_state.defined()) archive.write("rng_state", state.rng_state, /*is_buffer=*/true);
  if (!state.initialized_from.empty())
    archive.write("initialized_from", c10::IValue(state.initialized_from));
  torch::serialize::OutputArchive model_archive;
  model.save(model_archive);
  archive.write("model", model_archive);
  if (averaged) {
    torch::serialize::OutputArchive averaged_archive;
    averaged->save(averaged_archive);
    archive.write(kAveragedKey, averaged_archive);
  }
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  write_atomically(path, [&](const std::string& temporary) { archive.save_to(temporary); });
}

CheckpointReader::CheckpointReader(std::string path)
    : path_(std::move(path)), archive_(open_checkpoint(path_)) {}

CheckpointState read_checkpoint_state(const std::string& path) {
  return CheckpointReader(path).state();
}

void load_checkpoint_weights(const std::string& path, VisionTransformerImpl& model,
                             torch::optim::Optimizer* optimizer) {
  CheckpointReader(path).load_weights(model, optimizer);
}

CheckpointState CheckpointReader::state() {
  torch::serialize::InputArchive& archive = archive_;
  CheckpointState state;
  c10::IValue value;
  archive.read("config_yaml", value);
  state.config_yaml = value.toStringRef();
  archive.read("class_names", value);
  state.class_names = split_lines(value.toStringRef());
  archive.read("epoch", value);
  state.epoch = value.toInt();
  archive.read("step", value);
  state.step = value.toInt();
  archive.read("batches_into_epoch", value);
  state.batches_into_epoch = value.toInt();
  archive.read("best_top1", value);
  state.best_top1 = value.toDouble();
  torch::Tensor rng_state;
  if (archive.try_read("rng_state", rng_state, /*is_buffer=*/true)) state.rng_state = rng_state;
  // Absent from checkpoints of runs started from random weights, and from older ones.
  if (archive.try_read("initialized_from", value) && value.isString())
    state.initialized_from = value.toStringRef();
  return state;
}

void CheckpointReader::load_weights(VisionTransformerImpl& model,
                                    torch::optim::Optimizer* optimizer) {
  load_module("model", model);
  if (!optimizer) return;
  torch::serialize::InputArchive optimizer_archive;
  if (!archive_.try_read("optimizer", optimizer_archive))
    throw std::runtime_error(path_ + ": has no optimizer state to resume from");
  optimizer->load(optimizer_archive);
}

bool CheckpointReader::has_averaged_weights() {
  torch::serialize::InputArchive averaged_archive;
  return archive_.try_read(kAveragedKey, averaged_archive);
}

void CheckpointReader::load_averaged_weights(VisionTransformerImpl& model) {
  load_module(kAveragedKey, model);
}

void CheckpointReader::load_module(const char* key, VisionTransformerImpl& model) {
  const std::string& path = path_;
  torch::serialize::InputArchive model_archive;
  if (!archive_.try_read(key, model_archive))
    throw std::runtime_error(path + ": has no " + key + " weights");
  // Module::load swaps in whatever tensor the archive holds, of any shape: check the shapes
  // against the model built from the config, so a mismatch is an error and not a crash later.
  std::vector<std::pair<std::string, std::vector<int64_t>>> expected_shapes;
  for (const auto& item : model.named_parameters())
    expected_shapes.emplace_back(item.key(), item.value().sizes().vec());
  try {
    model.load(model_archive);
  } catch (const c10::Error& error) {
    throw std::runtime_error(path + ": weights do not fit the model of its config (" +
                             split_lines(error.what_without_backtrace()).front() + ")");
  }
  const auto loaded = model.named_parameters();
  for (const auto& [name, shape] : expected_shapes)
    if (loaded[name].sizes().vec() != shape)
      throw std::runtime_error(path + ": weights do not fit the model of its config (" + name +
                               " is " + c10::str(loaded[name].sizes()) + ", expected " +
                               c10::str(c10::IntArrayRef(shape)) + ")");
}

}  // namespace moevit
