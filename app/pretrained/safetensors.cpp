#include "app/pretrained/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <vector>

#include "app/run/atomic_write.h"

namespace moevit {

namespace {

// The data are copied as they lie in the file; only a little-endian host reads them right.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors data are little-endian");

using Json = nlohmann::json;

constexpr uint64_t kHeaderLengthBytes = 8;  // N, a u64 before the header
// The reference reader refuses headers over 100 MB "to prevent parsing extremely large JSON"
// (README, "Benefits"); no real model's header comes near (a ViT-B/16's is ~16 KB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr const char* kMetadataKey = "__metadata__";

struct Dtype {
  const char* name;  // the format's spelling
  torch::ScalarType scalar_type;
  uint64_t element_bytes;
};

// The dtypes whose bytes a torch tensor of the same dtype holds as they are. The format also
// names BOOL, U16, U32, U64 and F8_*, which LibTorch 1.13 has no dtype (or no safe byte
// reinterpretation, for BOOL) for.
constexpr std::array<Dtype, 9> kDtypes{{{"F64", torch::kFloat64, 8},
                                        {"F32", torch::kFloat32, 4},
                                        {"F16", torch::kFloat16, 2},
                                        {"BF16", torch::kBFloat16, 2},
                                        {"I64", torch::kInt64, 8},
                                        {"I32", torch::kInt32, 4},
                                        {"I16", torch::kInt16, 2},
                                        {"I8", torch::kInt8, 1},
                                        {"U8", torch::kUInt8, 1}}};

std::string dtype_list() {
  std::string names;
  for (const Dtype& dtype : kDtypes) names += (names.empty() ? "" : ", ") + std::string(dtype.name);
  return names;
}

const Dtype* dtype_named(const std::string& name) {
  for (const Dtype& dtype : kDtypes)
    if (name == dtype.name) return &dtype;
  return nullptr;
}

const Dtype* dtype_of(torch::ScalarType scalar_type) {
  for (const Dtype& dtype : kDtypes)
    if (scalar_type == dtype.scalar_type) return &dtype;
  return nullptr;
}

// A name as JSON writes it, quoted and escaped: a hostile name cannot break the one-line error.
std::string json_quoted(const std::string& name) {
  return Json(name).dump(-1, ' ', false, Json::error_handler_t::replace);
}

// A JSON value for an error message, cut short: a hostile shape may be megabytes long.
std::string brief(const Json& value) {
  constexpr size_t kMaxChars = 60;
  const std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  return text.size() <= kMaxChars ? text : text.substr(0, kMaxChars) + "...";
}

[[noreturn]] void refuse(const std::string& path, const std::string& where,
                         const std::string& problem) {
  throw std::runtime_error(path + ": " + where + ": " + problem);
}

// product = a·b and true, or false when a·b would exceed `limit` (checked before multiplying).
bool multiply_within(uint64_t a, uint64_t b, uint64_t limit, uint64_t& product) {
  if (a != 0 && b > limit / a) return false;
  product = a * b;
  return true;
}

// One tensor's line of the header, checked.
struct TensorEntry {
  std::string name;
  const Dtype* dtype = nullptr;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // [begin, end) in the data buffer
};

std::string offsets_text(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// The header's JSON, refusing what the format forbids and nlohmann would let through: a header
// that does not start with '{' (the reference reader's InvalidHeaderStart) and duplicate keys
// (README: "Duplicate keys are disallowed"), which nlohmann resolves silently, last one wins.
Json parse_header(const std::string& path, const std::string& text) {
  if (text.empty() || text.front() != '{')
    refuse(path, "header",
           "expected a JSON object starting with '{', got " +
               (text.empty() ? std::string("nothing") : json_quoted(text.substr(0, 1))));
  std::vector<std::set<std::string>> open_objects;  // the keys seen in each enclosing object
  std::string current_tensor, duplicate_key, duplicate_in;
  const auto watch_keys = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) open_objects.emplace_back();
    if (event == Json::parse_event_t::object_end) open_objects.pop_back();
    if (event == Json::parse_event_t::key) {
      const std::string key = parsed.get<std::string>();
      if (open_objects.size() == 1) current_tensor = key;
      if (!open_objects.back().insert(key).second && duplicate_key.empty()) {
        duplicate_key = key;
        duplicate_in = open_objects.size() == 1         ? std::string("header")
                       : current_tensor == kMetadataKey ? "header: " + json_quoted(kMetadataKey)
                                                        : tensor_label(current_tensor);
      }
    }
    return true;
  };
  Json header;
  try {
    header = Json::parse(text, watch_keys);
  } catch (const Json::exception& error) {
    refuse(path, "header", std::string("not valid JSON (") + error.what() + ")");
  }
  if (!duplicate_key.empty())
    refuse(path, duplicate_in, "the key " + json_quoted(duplicate_key) + " appears twice");
  if (!header.is_object())
    refuse(path, "header", std::string("expected a JSON object, got ") + header.type_name());
  return header;
}

std::map<std::string, std::string> parse_metadata(const std::string& path, const Json& value) {
  const std::string where = "header: " + json_quoted(kMetadataKey);
  if (!value.is_object())
    refuse(path, where, std::string("expected a map of strings, got ") + value.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, text] : value.items()) {
    if (!text.is_string())
      refuse(path, where,
             "expected a string for " + json_quoted(key) +
                 " (the format allows only strings), got " + brief(text));
    metadata[key] = text.get<std::string>();
  }
  return metadata;
}

// One tensor's header entry, checked against itself and the data buffer's size.
TensorEntry parse_entry(const std::string& path, const std::string& name, const Json& value,
                        uint64_t buffer_bytes) {
  const std::string where = tensor_label(name);
  if (!value.is_object())
    refuse(
        path, where,
        "expected an object with \"dtype\", \"shape\" and \"data_offsets\", got " + brief(value));
  const auto field = [&](const char* key) -> const Json& {
    const auto found = value.find(key);
    if (found == value.end()) refuse(path, where, std::string("has no \"") + key + "\"");
    return *found;
  };
  // Fields other than the three are ignored, as the reference reader (serde) ignores them.
  TensorEntry entry;
  entry.name = name;
  const Json& dtype = field("dtype");
  if (!dtype.is_string()) refuse(path, where, "expected \"dtype\" a string, got " + brief(dtype));
  entry.dtype = dtype_named(dtype.get<std::string>());
  if (!entry.dtype)
    refuse(path, where, "unsupported dtype " + brief(dtype) + " (reads " + dtype_list() + ")");

  const Json& shape = field("shape");
  const auto shape_refusal = [&] {
    refuse(path, where, "expected \"shape\" a list of integers in [0, 2^63), got " + brief(shape));
  };
  if (!shape.is_array()) shape_refusal();
  constexpr uint64_t kMaxDim = std::numeric_limits<int64_t>::max();
  // The product of the non-zero sizes must fit too: LibTorch multiplies all sizes for numel.
  uint64_t nonzero_product = 1;
  bool has_zero = false;
  for (const Json& size : shape) {
    if (!size.is_number_unsigned() || size.get<uint64_t>() > kMaxDim) shape_refusal();
    const uint64_t dim = size.get<uint64_t>();
    entry.shape.push_back(static_cast<int64_t>(dim));
    has_zero = has_zero || dim == 0;
    if (!multiply_within(nonzero_product, std::max<uint64_t>(dim, 1), kMaxDim, nonzero_product))
      refuse(path, where, "shape " + brief(shape) + " is too large (its sizes multiply past 2^63)");
  }
  const uint64_t numel = has_zero ? 0 : nonzero_product;

  const Json& offsets = field("data_offsets");
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned())
    refuse(
        path, where,
        "expected \"data_offsets\" two non-negative integers [begin, end], got " + brief(offsets));
  entry.begin = offsets[0].get<uint64_t>();
  entry.end = offsets[1].get<uint64_t>();
  if (entry.begin > entry.end)
    refuse(path, where,
           "data_offsets " + offsets_text(entry.begin, entry.end) + " end before they begin");
  if (entry.end > buffer_bytes)
    refuse(path, where,
           "data_offsets " + offsets_text(entry.begin, entry.end) +
               " run past the end of the data buffer (" + std::to_string(buffer_bytes) +
               " bytes; is the file truncated?)");
  uint64_t expected_bytes = 0;
  if (!multiply_within(numel, entry.dtype->element_bytes, std::numeric_limits<uint64_t>::max(),
                       expected_bytes))
    refuse(path, where,
           "shape " + brief(shape) + " of " + entry.dtype->name + " needs 2^64 bytes or more");
  if (expected_bytes != entry.end - entry.begin)
    refuse(path, where,
           "shape " + brief(shape) + " of " + entry.dtype->name + " needs " +
               std::to_string(expected_bytes) + " bytes, data_offsets " +
               offsets_text(entry.begin, entry.end) + " hold " +
               std::to_string(entry.end - entry.begin));
  return entry;
}

// README: "The byte buffer needs to be entirely indexed, and cannot contain holes" (no polyglot
// files): in offset order, each tensor starts where the one before it ended, and the last ends
// at the buffer's end. Sorts `entries` by offset.
void check_buffer_tiling(const std::string& path, std::vector<TensorEntry>& entries,
                         uint64_t buffer_bytes) {
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  uint64_t covered = 0;  // bytes [0, covered) belong to the tensors seen so far
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& entry : entries) {
    const std::string offsets = offsets_text(entry.begin, entry.end);
    if (entry.begin < covered)
      refuse(path, tensor_label(entry.name),
             "data_offsets " + offsets + " overlap " + tensor_label(previous->name) + "'s " +
                 offsets_text(previous->begin, previous->end));
    if (entry.begin > covered)
      refuse(path, tensor_label(entry.name),
             "data_offsets " + offsets + " leave bytes " + offsets_text(covered, entry.begin) +
                 " of the data buffer to no tensor (the format allows no holes)");
    covered = entry.end;
    previous = &entry;
  }
  if (covered != buffer_bytes)
    refuse(path, "header",
           "the tensors cover " + std::to_string(covered) + " of the data buffer's " +
               std::to_string(buffer_bytes) + " bytes (the format allows no unindexed bytes)");
}

}  // namespace

std::string tensor_label(const std::string& name) {
  return "tensor " + json_quoted(name);
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw std::invalid_argument(path + ": no such safetensors file");
  const uint64_t file_bytes = std::filesystem::file_size(path, error);
  if (error) refuse(path, "header", "cannot read the file's size (" + error.message() + ")");
  std::ifstream file(path, std::ios::binary);
  if (!file) refuse(path, "header", "cannot open the file");

  if (file_bytes < kHeaderLengthBytes)
    refuse(path, "header",
           "the file has " + std::to_string(file_bytes) +
               " bytes, too few for the 8-byte header length");
  std::array<unsigned char, kHeaderLengthBytes> length_bytes{};
  file.read(reinterpret_cast<char*>(length_bytes.data()), kHeaderLengthBytes);
  uint64_t header_bytes = 0;
  for (size_t byte = 0; byte < length_bytes.size(); ++byte)
    header_bytes |= static_cast<uint64_t>(length_bytes[byte]) << (8 * byte);  // little-endian
  if (header_bytes > kMaxHeaderBytes)
    refuse(path, "header",
           "its length " + std::to_string(header_bytes) + " exceeds the format's limit of " +
               std::to_string(kMaxHeaderBytes) + " bytes");
  if (header_bytes > file_bytes - kHeaderLengthBytes)
    refuse(path, "header",
           "its length " + std::to_string(header_bytes) + " runs past the end of the file (" +
               std::to_string(file_bytes) + " bytes)");
  std::string header_text(header_bytes, '\0');
  file.read(header_text.data(), static_cast<std::streamsize>(header_bytes));
  if (!file) refuse(path, "header", "cannot read its " + std::to_string(header_bytes) + " bytes");

  const Json header = parse_header(path, header_text);
  const uint64_t data_start = kHeaderLengthBytes + header_bytes;
  const uint64_t buffer_bytes = file_bytes - data_start;
  SafetensorsFile contents;
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == kMetadataKey)
      contents.metadata = parse_metadata(path, value);
    else
      entries.push_back(parse_entry(path, name, value, buffer_bytes));
  }
  check_buffer_tiling(path, entries, buffer_bytes);

  // Straight into each tensor's own storage, in file order: no second copy of the file in memory.
  for (const TensorEntry& entry : entries) {
    torch::Tensor tensor = torch::empty(entry.shape, torch::dtype(entry.dtype->scalar_type));
    const uint64_t bytes = entry.end - entry.begin;
    if (bytes > 0) {
      file.seekg(static_cast<std::streamoff>(data_start + entry.begin));
      file.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(bytes));
      if (!file)
        refuse(path, tensor_label(entry.name),
               "cannot read its " + std::to_string(bytes) + " bytes at data_offsets " +
                   offsets_text(entry.begin, entry.end));
    }
    contents.tensors.emplace(entry.name, std::move(tensor));
  }
  return contents;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<torch::Tensor> contiguous;  // in name order, the order of the data buffer
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    const std::string where = path + ": " + tensor_label(name) + ": ";
    if (name == kMetadataKey)
      throw std::invalid_argument(where + "the name is the format's key for metadata");
    if (!tensor.defined()) throw std::invalid_argument(where + "expected a tensor, got none");
    const Dtype* dtype = dtype_of(tensor.scalar_type());
    if (!dtype)
      throw std::invalid_argument(where + "cannot write dtype " +
                                  std::string(c10::toString(tensor.scalar_type())) + " (writes " +
                                  dtype_list() + ")");
    contiguous.push_back(tensor.detach().cpu().contiguous());
    const uint64_t bytes = contiguous.back().nbytes();
    header[name] = {{"dtype", dtype->name},
                    {"shape", contiguous.back().sizes().vec()},
                    {"data_offsets", Json::array({offset, offset + bytes})}};
    offset += bytes;
  }
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const Json::exception& error) {  // a name or metadata that is not UTF-8
    throw std::invalid_argument(path + ": header: " + error.what());
  }
  // Spaces up to a multiple of 8, as the reference writer pads, so every tensor of the buffer
  // starts 8-byte aligned in the file (README: the header "MAY be trailing padded with
  // whitespace").
  header_text.append((8 - header_text.size() % 8) % 8, ' ');

  write_atomically(path, [&](const std::string& temporary_path) {
    std::ofstream out(temporary_path, std::ios::binary);
    std::array<char, kHeaderLengthBytes> length_bytes{};
    for (size_t byte = 0; byte < length_bytes.size(); ++byte)
      length_bytes[byte] = static_cast<char>((header_text.size() >> (8 * byte)) & 0xff);
    out.write(length_bytes.data(), length_bytes.size());
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const torch::Tensor& tensor : contiguous)
      out.write(static_cast<const char*>(tensor.data_ptr()),
                static_cast<std::streamsize>(tensor.nbytes()));
    if (!out) throw std::runtime_error(temporary_path + ": write failed");
  });
}

}  // namespace moevit
