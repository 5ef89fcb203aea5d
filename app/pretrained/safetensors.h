// The safetensors format (https://github.com/huggingface/safetensors, README "Format"), read and
// written without the reference library (Debian packages none):
//   8 bytes   N, the header's length, an unsigned 64-bit little-endian integer
//   N bytes   a UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
//             and optionally "__metadata__": a string → string map
//   the rest  the data buffer: each tensor's bytes, row-major, little-endian, at [begin, end)
//             counted from the buffer's first byte; the tensors cover it without hole or overlap.
// A file is untrusted input (it comes from the Hub or anywhere): the reader checks every length,
// offset, shape and dtype against the file before it allocates or reads a byte, and a violation
// is a std::runtime_error whose one line names the file, the tensor (or "header") and what was
// expected.
#pragma once

#include <torch/types.h>

#include <map>
#include <string>

namespace moevit {

// Tensors by name: a state dict as a safetensors file holds it.
using NamedTensors = std::map<std::string, torch::Tensor>;

struct SafetensorsFile {
  NamedTensors tensors;                         // CPU, contiguous, in the file's dtype
  std::map<std::string, std::string> metadata;  // "__metadata__", e.g. {"format": "pt"}
};

// Reads the whole file. Dtypes read: F64, F32, F16, BF16, I64, I32, I16, I8, U8 (each into the
// torch dtype of the same layout: no conversion here; a caller converts with Tensor::to).
SafetensorsFile read_safetensors(const std::string& path);

// Writes `tensors` (any device or strides; written as contiguous CPU bytes) in name order with
// `metadata`, the header padded with spaces to a multiple of 8 bytes as the reference writer
// does, so the data starts 8-byte aligned. Atomic (app/run/atomic_write.h). Throws naming the
// tensor for an undefined tensor, a dtype outside the list above, or the name "__metadata__".
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// `tensor "NAME"`, the name quoted and escaped as JSON writes it, for error messages: a hostile
// name (a newline, a quote) cannot break the one-line error.
std::string tensor_label(const std::string& name);

}  // namespace moevit
