// Checkpoints as untrusted input (app/run/checkpoint.h): a real checkpoint truncated, bit-flipped,
// with members renamed or swapped, of another shape, dtype, class count or architecture, of the
// format before checksums, and written to a full disk. Each must give one line naming the file,
// or (a bit flip in a byte no reader uses) load exactly what was saved.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "app/run/checkpoint.h"
#include "app/run/config.h"
#include "app/run/optimizer_state_key.h"
#include "app/run/zip_check.h"
#include "app/train/optimizer_setup.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using testing::TempDir;

ModelConfig small_model() {
  return testing::tiny_model_config(RouterKind::kTopK);
}

// What a run checkpoints: a tiny MoE model one AdamW step in, a moving average of it (here a
// second model), and a full state.
struct SavedRun {
  VisionTransformer model{nullptr};
  VisionTransformer averaged{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
  CheckpointState state;
};

SavedRun make_run(const ModelConfig& config = small_model()) {
  torch::manual_seed(0);
  SavedRun run;
  run.model = VisionTransformer(config);
  run.averaged = VisionTransformer(config);
  run.optimizer = make_adamw(*run.model, OptimConfig{});
  run.model->forward(torch::randn({2, 1, 8, 8})).logits.sum().backward();
  run.optimizer->step();
  run.state.config_yaml = "model:\n  dim: 8\n";
  run.state.class_names = {"cat", "dog", "emu"};
  run.state.epoch = 3;
  run.state.step = 42;
  run.state.batches_into_epoch = 5;
  run.state.best_top1 = 0.75;
  run.state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  return run;
}

void save(SavedRun& run, const std::string& path) {
  save_checkpoint(path, *run.model, run.optimizer.get(), run.state, run.averaged.get());
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::vector<ZipMember> members_of(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return read_zip_directory(file, path);
}

bool same_tensor(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  return !a.defined() || (a.dtype() == b.dtype() && a.sizes() == b.sizes() && torch::equal(a, b));
}

bool same_weights(const torch::nn::Module& saved, const torch::nn::Module& loaded) {
  for (const bool buffers : {false, true}) {
    const auto a = buffers ? saved.named_buffers() : saved.named_parameters();
    const auto b = buffers ? loaded.named_buffers() : loaded.named_parameters();
    if (a.size() != b.size()) return false;
    for (const auto& item : a)
      if (!b.contains(item.key()) || !same_tensor(item.value(), b[item.key()])) return false;
  }
  return true;
}

// AdamW's state of each parameter, matched by the parameter's name.
bool same_moments(const SavedRun& run, torch::optim::Optimizer& loaded, torch::nn::Module& model) {
  const auto saved_parameters = run.model->named_parameters();
  const auto loaded_parameters = model.named_parameters();
  auto& saved_states = run.optimizer->state();
  auto& loaded_states = loaded.state();
  for (const auto& item : saved_parameters) {
    const auto a = saved_states.find(optimizer_state_key(saved_states, item.value()));
    const auto b =
        loaded_states.find(optimizer_state_key(loaded_states, loaded_parameters[item.key()]));
    if ((a == saved_states.end()) != (b == loaded_states.end())) return false;
    if (a == saved_states.end()) continue;
    const auto& x = static_cast<const torch::optim::AdamWParamState&>(*a->second);
    const auto& y = static_cast<const torch::optim::AdamWParamState&>(*b->second);
    if (x.step() != y.step() || !same_tensor(x.exp_avg(), y.exp_avg()) ||
        !same_tensor(x.exp_avg_sq(), y.exp_avg_sq()))
      return false;
  }
  return true;
}

// Reads all `path` holds into fresh objects, as a resume does; true when it is `run`, bit for
// bit. Throws what the reader throws.
bool loads_as(const std::string& path, const SavedRun& run) {
  CheckpointReader reader(path);
  const CheckpointState state = reader.state();
  torch::manual_seed(99);
  VisionTransformer model(small_model()), averaged(small_model());
  auto optimizer = make_adamw(*model, OptimConfig{});
  reader.load_weights(*model, optimizer.get());
  reader.load_averaged_weights(*averaged);
  return state.config_yaml == run.state.config_yaml && state.class_names == run.state.class_names &&
         state.epoch == run.state.epoch && state.step == run.state.step &&
         state.batches_into_epoch == run.state.batches_into_epoch &&
         state.best_top1 == run.state.best_top1 &&
         same_tensor(state.rng_state, run.state.rng_state) && same_weights(*run.model, *model) &&
         same_weights(*run.averaged, *averaged) && same_moments(run, *optimizer, *model);
}

// The one line `path` fails with, "" when it loads as `run` (then `*intact` is set).
std::string load_error(const std::string& path, const SavedRun& run, bool* intact) {
  *intact = false;
  return testing::error_message([&] { *intact = loads_as(path, run); });
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.rfind(prefix, 0) == 0;
}

TEST(CheckpointHostile, TheRunLoadsBackBitForBit) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  EXPECT_EQ(CheckpointReader(dir / "last.pt").format_version(), kCheckpointVersion);
  bool intact = false;
  EXPECT_EQ(load_error(dir / "last.pt", run, &intact), "");
  EXPECT_TRUE(intact);
}

TEST(CheckpointHostile, TruncatedAtTwentyOffsetsEachSaysSo) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  const std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  const std::string path = dir / "cut.pt";
  for (size_t k = 1; k <= 20; ++k) {
    const size_t length = bytes.size() * k / 21;
    testing::write_bytes(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + length));
    bool intact = false;
    EXPECT_EQ(load_error(path, run, &intact),
              path + ": not a readable moevit checkpoint: no zip end-of-directory record in its " +
                  std::to_string(length) + " bytes (truncated, or not a zip archive)");
  }
}

TEST(CheckpointHostile, TwentyBitFlipsEachFailNamingTheFileOrLoadIntact) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  const std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  const std::string path = dir / "flipped.pt";
  int refused = 0;
  for (size_t k = 0; k < 20; ++k) {
    const size_t position = bytes.size() * (2 * k + 1) / 40;
    std::vector<uint8_t> flipped = bytes;
    flipped[position] ^= static_cast<uint8_t>(1 << (k % 8));
    testing::write_bytes(path, flipped);
    bool intact = false;
    const std::string error = load_error(path, run, &intact);
    if (error.empty()) {
      // A byte no reader uses: a header's time or version, the alignment padding.
      EXPECT_TRUE(intact) << "a flip at byte " << position << " loaded a different checkpoint";
    } else {
      ++refused;
      EXPECT_TRUE(starts_with(error, path + ": ")) << error;
      EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(CheckpointHostile, AFlipInAnyMembersBytesIsCaughtBeforeLibTorchParsesThem) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  const std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  const std::string path = dir / "flipped.pt";
  for (const ZipMember& member : members_of(dir / "last.pt")) {
    if (member.compressed_size == 0) continue;
    std::vector<uint8_t> flipped = bytes;
    // Stored: any bit fails the CRC. Deflated: bit 0 of the first byte is BFINAL (RFC 1951),
    // and a stream that ends too early or too late fails to inflate.
    if (member.method == 0)
      flipped[member.data_offset + member.compressed_size / 2] ^= 0x08;
    else
      flipped[member.data_offset] ^= 0x01;
    testing::write_bytes(path, flipped);
    bool intact = false;
    EXPECT_TRUE(
        starts_with(load_error(path, run, &intact),
                    path + ": not a readable moevit checkpoint: member \"" + member.name + "\": "))
        << member.name << ": " << load_error(path, run, &intact);
  }
}

TEST(CheckpointHostile, AnEmptyFileAndAFileOfAnotherKindAreRefused) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  bool intact = false;
  testing::write_bytes(dir / "empty.pt", {});
  EXPECT_EQ(load_error(dir / "empty.pt", run, &intact),
            dir / "empty.pt" + ": not a readable moevit checkpoint: an empty file (0 bytes)");
  std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  bytes[0] = 'X';  // the zip signature PK\3\4 → XK\3\4
  testing::write_bytes(dir / "magic.pt", bytes);
  EXPECT_EQ(load_error(dir / "magic.pt", run, &intact),
            dir / "magic.pt" +
                ": not a readable moevit checkpoint: it does not begin as a zip archive "
                "(PK\\3\\4), which every LibTorch archive does");
}

TEST(CheckpointHostile, AMissingTensorRecordIsAnErrorNamingTheFile) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  // Renames ".../data/0" to ".../data/x" in its local header and in the directory alike: a
  // well-formed archive without the record of the first tensor LibTorch looks for.
  bool renamed = false;
  for (const ZipMember& member : members_of(dir / "last.pt")) {
    const std::string suffix = "/data/0";
    if (member.name.size() < suffix.size() ||
        member.name.compare(member.name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    bytes[member.header_offset + 30 + member.name.size() - 1] = 'x';
    bytes[member.entry_offset + 46 + member.name.size() - 1] = 'x';
    renamed = true;
  }
  ASSERT_TRUE(renamed);
  testing::write_bytes(dir / "missing.pt", bytes);
  bool intact = false;
  const std::string error = load_error(dir / "missing.pt", run, &intact);
  EXPECT_TRUE(starts_with(error, dir / "missing.pt" + ": not a readable moevit checkpoint ("))
      << error;
  EXPECT_NE(error.find("data/0"), std::string::npos) << error;
}

TEST(CheckpointHostile, TwoTensorRecordsSwappedFailTheChecksum) {
  TempDir dir;
  SavedRun run = make_run();
  save(run, dir / "last.pt");
  std::vector<uint8_t> bytes = read_bytes(dir / "last.pt");
  // Two stored tensor records of one size and different bytes, swapped with their CRC-32s: a
  // well-formed archive every byte of which matches its CRC, LibTorch loads it without a word.
  const std::vector<ZipMember> members = members_of(dir / "last.pt");
  const auto is_tensor = [](const ZipMember& member) {
    return member.method == 0 && member.name.find("/data/") != std::string::npos;
  };
  bool swapped = false;
  for (size_t i = 0; i < members.size() && !swapped; ++i)
    for (size_t j = i + 1; j < members.size() && !swapped; ++j) {
      const ZipMember &a = members[i], &b = members[j];
      if (!is_tensor(a) || !is_tensor(b) || a.size != b.size || a.crc32 == b.crc32) continue;
      std::swap_ranges(bytes.begin() + a.data_offset, bytes.begin() + a.data_offset + a.size,
                       bytes.begin() + b.data_offset);
      std::swap_ranges(bytes.begin() + a.entry_offset + 16, bytes.begin() + a.entry_offset + 20,
                       bytes.begin() + b.entry_offset + 16);
      swapped = true;
    }
  ASSERT_TRUE(swapped);
  testing::write_bytes(dir / "swapped.pt", bytes);
  bool intact = false;
  const std::string error = load_error(dir / "swapped.pt", run, &intact);
  EXPECT_TRUE(starts_with(error, dir / "swapped.pt" + ": damaged: the checksum of its ")) << error;
}

TEST(CheckpointHostile, AStoredTensorLargerThanItsRecordIsRefused) {
  TempDir dir;
  SavedRun run = make_run();
  run.state.rng_state = torch::zeros({64}, torch::kUInt8);
  run.state.rng_state.storage().set_nbytes(16);  // the file's record holds 16 of its 64 bytes
  save(run, dir / "short.pt");
  run.state.rng_state.storage().set_nbytes(64);
  const std::string error =
      testing::error_message([&] { CheckpointReader reader(dir / "short.pt"); });
  // LibTorch 1.13 builds the tensor without a look at its storage, and our check names it;
  // a LibTorch that checks it first is as good, in its own words.
  EXPECT_TRUE(error == dir / "short.pt" +
                           ": not a readable moevit checkpoint: rng_state: Byte [64] reaches 64 "
                           "bytes of a storage of 16 (damaged)" ||
              starts_with(error, dir / "short.pt" + ": not a readable moevit checkpoint ("))
      << error;
}

TEST(CheckpointHostile, ATensorOfAnotherShapeOrDtypeIsNamedBeforeTheModelIsTouched) {
  TempDir dir;
  SavedRun run = make_run();
  {
    torch::NoGradGuard no_grad;
    run.model->named_parameters()["norm.bias"].set_data(torch::zeros({5}));
    run.averaged->named_parameters()["head.bias"].set_data(torch::zeros({3}, torch::kFloat64));
  }
  save(run, dir / "odd.pt");
  torch::manual_seed(99);
  VisionTransformer model(small_model());
  const torch::Tensor before = model->named_parameters()["head.weight"].clone();
  CheckpointReader reader(dir / "odd.pt");
  EXPECT_EQ(testing::error_message([&] { reader.load_weights(*model, nullptr); }),
            dir / "odd.pt" +
                ": weights do not fit the model: norm.bias is Float [5], expected "
                "Float [8]");
  EXPECT_TRUE(torch::equal(model->named_parameters()["head.weight"], before));
  EXPECT_EQ(testing::error_message([&] { reader.load_averaged_weights(*model); }),
            dir / "odd.pt" +
                ": averaged weights do not fit the model: head.bias is Double [3], "
                "expected Float [3]");
}

TEST(CheckpointHostile, OptimizerMomentsOfAnotherShapeAreNamed) {
  TempDir dir;
  SavedRun run = make_run();
  const torch::Tensor norm_bias = run.model->named_parameters()["norm.bias"];
  auto& state = static_cast<torch::optim::AdamWParamState&>(
      *run.optimizer->state().at(optimizer_state_key(run.optimizer->state(), norm_bias)));
  state.exp_avg(torch::zeros({5}));  // the bias is [8]
  save(run, dir / "moments.pt");
  VisionTransformer model(small_model());
  auto optimizer = make_adamw(*model, OptimConfig{});
  const std::string error = testing::error_message(
      [&] { load_checkpoint_weights(dir / "moments.pt", *model, optimizer.get()); });
  // Biases are exempt from weight decay: group 1 (app/train/optimizer_setup.h).
  EXPECT_TRUE(starts_with(
      error, dir / "moments.pt" + ": optimizer state does not fit the model: group 1 parameter "))
      << error;
  const std::string tail = " exp_avg is Float [5], its parameter Float [8]";
  EXPECT_EQ(error.substr(error.size() - std::min(error.size(), tail.size())), tail);
}

TEST(CheckpointHostile, AnotherClassCountOrArchitectureIsNamed) {
  TempDir dir;
  ModelConfig five_classes = small_model(), dense = small_model(), deeper = small_model();
  five_classes.num_classes = 5;
  dense.moe.router = RouterKind::kDense;
  deeper.depth = 3;
  const std::vector<std::pair<ModelConfig, std::string>> cases = {
      {five_classes, "head.weight is Float [5, 8], expected Float [3, 8]"},
      {dense, "blocks.1.moe is missing"},
      {deeper, "blocks.2 is in the file but not in the model"}};
  for (const auto& [config, what] : cases) {
    SavedRun other = make_run(config);
    save(other, dir / "other.pt");
    VisionTransformer model(small_model());
    EXPECT_EQ(
        testing::error_message([&] { load_checkpoint_weights(dir / "other.pt", *model, nullptr); }),
        dir / "other.pt" + ": weights do not fit the model: " + what);
  }
}

// What save_checkpoint wrote before checksums (format 1), key for key.
void save_format1_checkpoint(const std::string& path, const SavedRun& run) {
  torch::serialize::OutputArchive archive;
  archive.write("moevit_checkpoint_version", c10::IValue(int64_t{1}));
  archive.write("config_yaml", c10::IValue(run.state.config_yaml));
  archive.write("class_names", c10::IValue(std::string("cat\ndog\nemu\n")));
  archive.write("epoch", c10::IValue(run.state.epoch));
  archive.write("step", c10::IValue(run.state.step));
  archive.write("batches_into_epoch", c10::IValue(run.state.batches_into_epoch));
  archive.write("best_top1", c10::IValue(run.state.best_top1));
  archive.write("rng_state", run.state.rng_state, /*is_buffer=*/true);
  torch::serialize::OutputArchive model, averaged, optimizer;
  run.model->save(model);
  archive.write("model", model);
  run.averaged->save(averaged);
  archive.write("model_ema", averaged);
  run.optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  archive.save_to(path);
}

TEST(CheckpointHostile, AFormatOneCheckpointLoadsWithAOneLineNote) {
  TempDir dir;
  SavedRun run = make_run();
  const std::string path = dir / "old.pt";
  save_format1_checkpoint(path, run);
  EXPECT_EQ(CheckpointReader(path).format_version(), 1);
  ::testing::internal::CaptureStderr();
  bool intact = false;
  const std::string error = load_error(path, run, &intact);
  const std::string note = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(error, "");
  EXPECT_TRUE(intact);
  EXPECT_EQ(note, path +
                      ": written before checkpoints carried checksums (format 1): its tensors "
                      "load unverified\n");
}

TEST(CheckpointHostile, AFullDiskFailsTheSaveInOneLineAndKeepsThePreviousCheckpoint) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  TempDir dir;
  SavedRun run = make_run();
  const std::string path = dir / "last.pt";
  save(run, path);
  // The temporary file on a full disk: every write fails with ENOSPC, as /dev/full's do.
  std::filesystem::create_symlink("/dev/full", path + ".tmp");
  run.state.epoch = 4;
  EXPECT_EQ(testing::error_message([&] { save(run, path); }),
            path + ": checkpoint not saved (" + path +
                ".tmp: write failed (No space left on device)); any previous checkpoint there is "
                "unchanged");
  std::error_code ignored;
  const bool temporary_left = std::filesystem::symlink_status(path + ".tmp", ignored).type() !=
                              std::filesystem::file_type::not_found;
  std::filesystem::remove(path + ".tmp", ignored);  // never leave a link to /dev/full behind
  EXPECT_FALSE(temporary_left);
  EXPECT_EQ(read_checkpoint_state(path).epoch, 3);
}

}  // namespace
}  // namespace moevit
