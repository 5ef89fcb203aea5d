#include "app/run/checkpoint.h"

#include <torch/serialize.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "app/run/archive_tensors.h"
#include "app/run/atomic_write.h"
#include "app/run/tensor_checksum.h"
#include "app/run/zip_check.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

constexpr const char* kFormatKey = "moevit_checkpoint_version";
constexpr const char* kModelKey = "model";
constexpr const char* kAveragedKey = "model_ema";
constexpr const char* kOptimizerKey = "optimizer";

// Where format 2 keeps the checksum of the part under `key`, e.g. "model_crc32".
std::string checksum_key(const std::string& key) {
  return key + "_crc32";
}

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

// LibTorch's message without its backtrace, first line only, for a one-line error.
std::string first_line(const c10::Error& error) {
  const std::vector<std::string> lines = split_lines(error.what_without_backtrace());
  return lines.empty() ? "" : lines.front();
}

std::string hex32(uint64_t value) {
  char text[24];
  std::snprintf(text, sizeof text, "%08llx", static_cast<unsigned long long>(value));
  return text;
}

std::string unreadable(const std::string& path) {
  return path + ": not a readable moevit checkpoint";
}

// Opens the file once: the zip check and LibTorch read the same bytes, even if a run renames a
// new checkpoint over the path meanwhile.
torch::serialize::InputArchive open_checkpoint(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw std::invalid_argument(path + ": no such checkpoint file");
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error(unreadable(path) + ": cannot open it");
  check_zip_archive(file, unreadable(path));
  file.clear();
  file.seekg(0);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file);
  } catch (const c10::Error& error) {
    throw std::runtime_error(unreadable(path) + " (" + first_line(error) + ")");
  }
  return archive;
}

int64_t read_format_version(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue version;
  if (!archive.try_read(kFormatKey, version) || !version.isInt())
    throw std::runtime_error(path + ": not a moevit checkpoint (no " + kFormatKey + ")");
  if (version.toInt() > kCheckpointVersion)
    throw std::runtime_error(path + ": checkpoint format " + std::to_string(version.toInt()) +
                             " is newer than this moevit (" + std::to_string(kCheckpointVersion) +
                             "); upgrade moevit");
  if (version.toInt() < 1)
    throw std::runtime_error(path + ": not a moevit checkpoint (format " +
                             std::to_string(version.toInt()) + ")");
  return version.toInt();
}

// What the reader's messages call the part under `key`.
std::string part_name(const std::string& key) {
  if (key == kAveragedKey) return "averaged weights";
  if (key == kOptimizerKey) return "optimizer state";
  return "weights";
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
  // Each part with its checksum, computed from the tensors as they are in memory.
  const auto write_part = [&archive](const char* key, const auto& save, uint32_t checksum) {
    torch::serialize::OutputArchive part;
    save(part);
    archive.write(key, part);
    archive.write(checksum_key(key), c10::IValue(static_cast<int64_t>(checksum)));
  };
  write_part(
      kModelKey, [&model](auto& part) { model.save(part); }, module_checksum(model));
  if (averaged)
    write_part(
        kAveragedKey, [averaged](auto& part) { averaged->save(part); }, module_checksum(*averaged));
  if (optimizer)
    write_part(
        kOptimizerKey, [optimizer](auto& part) { optimizer->save(part); },
        optimizer_checksum(*optimizer));
  try {
    write_atomically(path, [&archive](const std::string& temporary) {
      // Through a writer that never fails midway (see CheckedFileWriter): LibTorch's own file
      // writer aborts the process when the disk fills up.
      CheckedFileWriter file(temporary);
      archive.save_to([&file](const void* data, size_t size) { return file.write(data, size); });
      file.close();
    });
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(path + ": checkpoint not saved (" + error.what() +
                             "); any previous checkpoint there is unchanged");
  }
}

CheckpointReader::CheckpointReader(std::string path)
    : path_(std::move(path)), archive_(open_checkpoint(path_)) {
  format_version_ = read_format_version(archive_, path_);
  check_tensors_within_storage(archive_, unreadable(path_));
}

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
  // A value missing or of another type is a c10::Error from LibTorch; the zip check makes it
  // unlikely (the pickle holding these passed its CRC-32) but not impossible.
  try {
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
  } catch (const c10::Error& error) {
    throw std::runtime_error(unreadable(path_) + " (" + first_line(error) + ")");
  }
  torch::Tensor rng_state;
  if (archive.try_read("rng_state", rng_state, /*is_buffer=*/true)) state.rng_state = rng_state;
  // Absent from checkpoints of runs started from random weights, and from older ones.
  if (archive.try_read("initialized_from", value) && value.isString())
    state.initialized_from = value.toStringRef();
  return state;
}

void CheckpointReader::load_weights(VisionTransformerImpl& model,
                                    torch::optim::Optimizer* optimizer) {
  load_module(kModelKey, model);
  if (!optimizer) return;
  torch::serialize::InputArchive optimizer_archive;
  if (!archive_.try_read(kOptimizerKey, optimizer_archive))
    throw std::runtime_error(path_ + ": has no optimizer state to resume from");
  const std::string mismatch = path_ + ": optimizer state does not fit the model";
  try {
    optimizer->load(optimizer_archive);
  } catch (const c10::Error& error) {
    throw std::runtime_error(mismatch + " (" + first_line(error) + ")");
  }
  check_optimizer_state_fits(*optimizer, mismatch);
  verify_checksum(kOptimizerKey, optimizer_checksum(*optimizer), part_name(kOptimizerKey));
}

bool CheckpointReader::has_averaged_weights() {
  torch::serialize::InputArchive averaged_archive;
  return archive_.try_read(kAveragedKey, averaged_archive);
}

void CheckpointReader::load_averaged_weights(VisionTransformerImpl& model) {
  load_module(kAveragedKey, model);
}

void CheckpointReader::load_module(const char* key, VisionTransformerImpl& model) {
  torch::serialize::InputArchive model_archive;
  if (!archive_.try_read(key, model_archive))
    throw std::runtime_error(path_ + ": has no " + key + " weights");
  // Before Module::load, which swaps in whatever the archive holds under each name.
  const std::string mismatch = path_ + ": " + part_name(key) + " do not fit the model";
  check_archive_fits_module(model_archive, model, mismatch);
  try {
    model.load(model_archive);
  } catch (const c10::Error& error) {
    throw std::runtime_error(mismatch + " (" + first_line(error) + ")");
  }
  verify_checksum(key, module_checksum(model), part_name(key));
}

void CheckpointReader::verify_checksum(const std::string& key, uint32_t computed,
                                       const std::string& what) {
  if (format_version_ < 2) {
    if (!noted_unverified_)
      std::fprintf(stderr,
                   "%s: written before checkpoints carried checksums (format %lld): its tensors "
                   "load unverified\n",
                   path_.c_str(), static_cast<long long>(format_version_));
    noted_unverified_ = true;
    return;
  }
  c10::IValue stored;
  if (!archive_.try_read(checksum_key(key), stored) || !stored.isInt())
    throw std::runtime_error(path_ + ": has no checksum for its " + what + " (damaged)");
  if (stored.toInt() != static_cast<int64_t>(computed))
    throw std::runtime_error(path_ + ": damaged: the checksum of its " + what + " is CRC-32 " +
                             hex32(computed) + " as loaded, " + hex32(stored.toInt()) +
                             " as written");
}

}  // namespace moevit
