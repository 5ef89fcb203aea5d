// A checksum over a checkpoint's tensors, written with them and checked once they are loaded
// (format 2 of app/run/checkpoint.h). The zip archive's CRC-32s (app/run/zip_check.h) cover
// each member's bytes; this one covers what LibTorch made of them: each tensor under its name,
// dtype and shape, so a member swapped with another of the same size, or a tensor that went to
// the wrong parameter, is caught as well as damage.
//
// CRC-32 (zlib's, the zip one) over, for each tensor in a fixed order: its name, its dtype's
// name, its rank and sizes as little-endian int64, then its bytes (row-major, on the CPU).
// CRC-32 detects every error burst of up to 32 bits and misses other damage with probability
// 2^-32; it runs at memory speed, so it costs little beside the write itself.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <string>

namespace moevit {

class TensorChecksum {
 public:
  // An undefined tensor counts as its name and the word "undefined".
  void add(const std::string& name, const torch::Tensor& tensor);
  void add(const std::string& name, int64_t value);
  uint32_t value() const { return crc_; }

 private:
  void add_bytes(const void* data, std::size_t size);

  uint32_t crc_ = 0;  // CRC-32 of nothing
};

// The module's parameters, then its buffers, by their dotted names (named_parameters order).
uint32_t module_checksum(const torch::nn::Module& module);

// Each parameter's state, parameter by parameter in group order (the order Optimizer::load
// matches them by): AdamW's step and moments ("group 0 parameter 3 exp_avg", ...), or that the
// parameter has none yet. Throws std::logic_error for a state other than AdamW's: a new
// optimizer must name its tensors here before its checkpoints can be written.
uint32_t optimizer_checksum(const torch::optim::Optimizer& optimizer);

}  // namespace moevit
