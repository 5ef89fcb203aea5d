// The safetensors reader and writer: a bit-exact round trip, a file built byte by byte here read
// to known tensors, the writer's exact bytes, and every hostile file refused in one line that
// names the file and the tensor (or the header).
#include "app/pretrained/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using Bytes = std::vector<uint8_t>;

// The 8-byte little-endian length, then the header text, then the data buffer.
Bytes safetensors_bytes(const std::string& header, const Bytes& data, uint64_t declared_length) {
  Bytes bytes;
  for (int byte = 0; byte < 8; ++byte) bytes.push_back((declared_length >> (8 * byte)) & 0xff);
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

Bytes safetensors_bytes(const std::string& header, const Bytes& data) {
  return safetensors_bytes(header, data, header.size());
}

Bytes file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// The message read_safetensors refuses `path` with: a std::runtime_error (a JSON library
// exception leaking out would fail here), or "(accepted)" when it reads.
std::string read_refusal(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const std::runtime_error& error) {
    return error.what();
  }
  return "(accepted)";
}

// The tensor's bits as integers of its width, so that NaN payloads and -0 compare exactly.
torch::Tensor bits_of(const torch::Tensor& tensor) {
  switch (tensor.element_size()) {
    case 8:
      return tensor.view(torch::kInt64);
    case 4:
      return tensor.view(torch::kInt32);
    case 2:
      return tensor.view(torch::kInt16);
    default:
      return tensor.view(torch::kUInt8);
  }
}

TEST(Safetensors, RoundTripIsBitIdenticalForEachDtypeWithMetadata) {
  TempDir dir;
  torch::manual_seed(0);
  const float infinity = std::numeric_limits<float>::infinity();
  torch::Tensor f32 = torch::randn({3, 4});
  f32[0][0] = std::numeric_limits<float>::quiet_NaN();
  f32[0][1] = -infinity;
  f32[0][2] = -0.0f;
  f32[0][3] = std::numeric_limits<float>::denorm_min();
  const torch::Tensor f16 =
      torch::tensor({1.0f, -2.5f, 65504.0f, 6e-8f, infinity}).to(torch::kHalf);
  const torch::Tensor bf16 = torch::randn({2, 3}).mul(1e30).to(torch::kBFloat16);
  const std::map<std::string, torch::Tensor> tensors = {
      {"blocks.0.weight", f32},
      {"half", f16},
      {"brain", bf16},
      {"scalar", torch::tensor(3.5, torch::kDouble)},  // shape [], F64
      {"empty", torch::zeros({0, 3}, torch::kHalf)},   // no bytes, still a shape
      {"steps", torch::tensor({-3, 0, 7}, torch::kLong)},
      {"transposed", torch::arange(6, torch::kFloat).view({2, 3}).t()}};  // not contiguous
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "ünïcode ok"}};
  write_safetensors(dir / "model.safetensors", tensors, metadata);

  const SafetensorsFile read = read_safetensors(dir / "model.safetensors");
  EXPECT_EQ(read.metadata, metadata);
  ASSERT_EQ(read.tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    ASSERT_EQ(read.tensors.count(name), 1u) << name;
    const torch::Tensor& loaded = read.tensors.at(name);
    EXPECT_EQ(loaded.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_EQ(loaded.sizes(), tensor.sizes()) << name;
    EXPECT_TRUE(loaded.is_contiguous()) << name;
    EXPECT_TRUE(torch::equal(bits_of(loaded), bits_of(tensor.contiguous()))) << name;
  }
  EXPECT_EQ(read.tensors.at("transposed")[0][1].item<float>(), 3.0f);
  EXPECT_TRUE(std::isnan(read.tensors.at("blocks.0.weight")[0][0].item<float>()));
  EXPECT_TRUE(std::signbit(read.tensors.at("blocks.0.weight")[0][2].item<float>()));
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors.tmp"));
}

TEST(Safetensors, WriterPadsTheHeaderToEightBytesAndWritesExactlyTheseBytes) {
  TempDir dir;
  write_safetensors(dir / "a.safetensors", {{"a", torch::tensor({1.0f, -2.0f})}},
                    {{"format", "pt"}});
  // Keys in name order (nlohmann's object is a std::map), 85 characters, 3 spaces of padding.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})"
      "   ";
  ASSERT_EQ(header.size(), 88u);
  const Bytes expected =
      safetensors_bytes(header, {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0});  // 1, -2
  EXPECT_EQ(file_bytes(dir / "a.safetensors"), expected);
}

TEST(Safetensors, HandWrittenFileReadsToTheExpectedTensors) {
  TempDir dir;
  // Keys out of order and with spaces, tensors not in name order in the buffer, a scalar.
  const std::string header = R"({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},)"
                             R"( "b": {"dtype": "BF16", "shape": [], "data_offsets": [22, 24]},)"
                             R"( "h": {"data_offsets": [16, 22], "shape": [3], "dtype": "F16"},)"
                             R"( "__metadata__": {"format": "pt"}}  )";
  const Bytes data = {
      0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40,  // w: 1.0, 2.0 (F32 little-endian)
      0x00, 0x00, 0x00, 0xbf, 0x00, 0x00, 0x50, 0x40,  //    -0.5, 3.25
      0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38,              // h: 1.0, -2.0, 0.5 (F16 0x3c00 ...)
      0xc0, 0x3f};                                     // b: 1.5 (BF16 0x3fc0)
  testing::write_bytes(dir / "hand.safetensors", safetensors_bytes(header, data));

  const SafetensorsFile read = read_safetensors(dir / "hand.safetensors");
  EXPECT_EQ(read.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(read.tensors.size(), 3u);
  const torch::Tensor& w = read.tensors.at("w");
  EXPECT_EQ(w.scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(w, torch::tensor({{1.0f, 2.0f}, {-0.5f, 3.25f}})));
  const torch::Tensor& h = read.tensors.at("h");
  EXPECT_EQ(h.scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(h.to(torch::kFloat), torch::tensor({1.0f, -2.0f, 0.5f})));
  const torch::Tensor& b = read.tensors.at("b");
  EXPECT_EQ(b.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(b.dim(), 0);
  EXPECT_EQ(b.item<float>(), 1.5f);
}

struct HostileHeader {
  const char* header;
  Bytes data;
  const char* where;    // the tensor (quoted as in the message) or "header"
  const char* problem;  // what the message must say
};

TEST(Safetensors, EachHostileHeaderIsRefusedNamingFileAndTensor) {
  const Bytes eight(8, 0), twelve(12, 0);
  const std::vector<HostileHeader> cases = {
      {R"([1])", eight, "header", "expected a JSON object starting with '{'"},
      {R"( {})", eight, "header", "starting with '{'"},
      {R"({"w":)", eight, "header", "not valid JSON"},
      {R"({"w":3})", eight, R"(tensor "w")", "expected an object with"},
      {R"({"w":{"shape":[2],"data_offsets":[0,8]}})", eight, R"(tensor "w")", R"(has no "dtype")"},
      {R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(has no "shape")"},
      {R"({"w":{"dtype":"F32","shape":[2]}})", eight, R"(tensor "w")", R"(has no "data_offsets")"},
      {R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(expected "dtype" a string, got 32)"},
      {R"({"w":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(unsupported dtype "F17" (reads F64, F32, F16, BF16, I64, I32, I16, I8, U8))"},
      {R"({"w":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(unsupported dtype "U16")"},
      {R"({"w":{"dtype":"F32","shape":"2","data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(expected "shape" a list of integers in [0, 2^63), got "2")"},
      {R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(got [-2])"},
      {R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       R"(expected "shape" a list of integers)"},
      {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,8]}})", eight,
       R"(tensor "w")", "is too large (its sizes multiply past 2^63)"},
      {R"({"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", eight,
       R"(tensor "w")", "needs 2^64 bytes or more"},
      {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight, R"(tensor "w")",
       "shape [3] of F32 needs 12 bytes, data_offsets [0, 8] hold 8"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight, R"(tensor "w")",
       R"(expected "data_offsets" two non-negative integers [begin, end], got [0])"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight, R"(tensor "w")",
       R"(expected "data_offsets" two non-negative integers)"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight, R"(tensor "w")",
       "data_offsets [8, 0] end before they begin"},
      {R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight, R"(tensor "w")",
       "data_offsets [0, 16] run past the end of the data buffer (8 bytes"},
      {R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       twelve, R"(tensor "b")", R"(data_offsets [4, 8] overlap tensor "a"'s [0, 8])"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
       twelve, R"(tensor "b")", "leave bytes [4, 8] of the data buffer to no tensor"},
      {R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", eight, "header",
       "the tensors cover 4 of the data buffer's 8 bytes"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
       eight, "header", R"(the key "w" appears twice)"},
      {R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", eight,
       R"(tensor "w")", R"(the key "dtype" appears twice)"},
      {R"({"__metadata__":{"n":1},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight,
       R"(header: "__metadata__")", R"(expected a string for "n")"},
      {R"({"__metadata__":"pt","w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight,
       R"(header: "__metadata__")", "expected a map of strings, got string"},
  };
  TempDir dir;
  const std::string path = dir / "hostile.safetensors";
  // The unmutated file reads, so each refusal below is the mutation's doing.
  testing::write_bytes(
      path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight));
  EXPECT_EQ(read_safetensors(path).tensors.at("w").numel(), 2);
  for (const HostileHeader& hostile : cases) {
    SCOPED_TRACE(hostile.header);
    testing::write_bytes(path, safetensors_bytes(hostile.header, hostile.data));
    const std::string message = read_refusal(path);
    EXPECT_THAT(message, HasSubstr(path + ": " + hostile.where + ": "));
    EXPECT_THAT(message, HasSubstr(hostile.problem));
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line";
  }
}

TEST(Safetensors, HeaderLengthShortFileAndTruncatedDataAreRefused) {
  TempDir dir;
  const std::string path = dir / "broken.safetensors";
  const std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

  testing::write_bytes(path, {0x10, 0x00, 0x00});
  EXPECT_EQ(read_refusal(path),
            path + ": header: the file has 3 bytes, too few for the 8-byte header length");

  testing::write_bytes(path, safetensors_bytes(header, Bytes(8, 0), /*declared_length=*/1000));
  EXPECT_EQ(read_refusal(path),
            path + ": header: its length 1000 runs past the end of the file (70 bytes)");

  testing::write_bytes(path, safetensors_bytes(header, Bytes(8, 0), uint64_t{1} << 63));
  EXPECT_THAT(read_refusal(path),
              HasSubstr(path + ": header: its length 9223372036854775808 exceeds the format's "
                               "limit of 100000000 bytes"));

  // A good file cut short by 3 bytes: its last tensor in the buffer ("z") runs past the end.
  write_safetensors(path, {{"a", torch::ones({4})}, {"z", torch::ones({2})}});
  Bytes truncated = file_bytes(path);
  truncated.resize(truncated.size() - 3);
  testing::write_bytes(path, truncated);
  EXPECT_THAT(read_refusal(path),
              HasSubstr(path + R"(: tensor "z": data_offsets [16, 24] run past the end of the )"
                               "data buffer (21 bytes; is the file truncated?)"));

  const std::string missing = dir / "missing.safetensors";
  EXPECT_THROW(read_safetensors(missing), std::invalid_argument);
  EXPECT_EQ(testing::error_message([&] { read_safetensors(missing); }),
            missing + ": no such safetensors file");
}

TEST(Safetensors, WriterRefusesWhatTheFormatCannotHoldAndLeavesNoFile) {
  TempDir dir;
  const std::string path = dir / "refused.safetensors";
  EXPECT_EQ(testing::error_message([&] {
              write_safetensors(path, {{"flags", torch::ones({2}, torch::kBool)}});
            }),
            path + R"(: tensor "flags": cannot write dtype Bool )"
                   "(writes F64, F32, F16, BF16, I64, I32, I16, I8, U8)");
  EXPECT_THAT(testing::error_message([&] {
                write_safetensors(path, {{"__metadata__", torch::ones({2})}});
              }),
              HasSubstr(path + R"(: tensor "__metadata__": the name is the format's key)"));
  EXPECT_THAT(testing::error_message([&] {
                write_safetensors(path, {{"w", torch::Tensor()}});
              }),
              HasSubstr(path + R"(: tensor "w": expected a tensor, got none)"));
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace moevit
