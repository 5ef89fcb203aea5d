#include "app/run/tensor_checksum.h"

#include <torch/optim/adamw.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "app/run/optimizer_state_key.h"

namespace moevit {

void TensorChecksum::add_bytes(const void* data, std::size_t size) {
  // zlib's crc32 takes a 32-bit length: a tensor of 4 GiB or more goes in pieces.
  const auto* bytes = static_cast<const unsigned char*>(data);
  constexpr std::size_t kPiece = std::numeric_limits<uInt>::max();
  for (std::size_t done = 0; done < size;) {
    const std::size_t count = std::min(kPiece, size - done);
    crc_ = static_cast<uint32_t>(::crc32(crc_, bytes + done, static_cast<uInt>(count)));
    done += count;
  }
}

void TensorChecksum::add(const std::string& name, const torch::Tensor& tensor) {
  add_bytes(name.c_str(), name.size() + 1);  // with its '\0': "ab"+"c" differs from "a"+"bc"
  if (!tensor.defined()) {
    add_bytes("undefined", sizeof "undefined");
    return;
  }
  const char* dtype = c10::toString(tensor.scalar_type());
  add_bytes(dtype, std::strlen(dtype) + 1);
  const int64_t rank = tensor.dim();
  add_bytes(&rank, sizeof rank);  // little-endian on every machine LibTorch builds for us
  for (const int64_t size : tensor.sizes()) add_bytes(&size, sizeof size);
  const torch::Tensor bytes = tensor.detach().to(torch::kCPU).contiguous();
  add_bytes(bytes.data_ptr(), bytes.nbytes());
}

void TensorChecksum::add(const std::string& name, int64_t value) {
  add_bytes(name.c_str(), name.size() + 1);
  add_bytes("int64", sizeof "int64");
  add_bytes(&value, sizeof value);
}

uint32_t module_checksum(const torch::nn::Module& module) {
  TensorChecksum checksum;
  for (const auto& item : module.named_parameters()) checksum.add(item.key(), item.value());
  for (const auto& item : module.named_buffers()) checksum.add(item.key(), item.value());
  return checksum.value();
}

uint32_t optimizer_checksum(const torch::optim::Optimizer& optimizer) {
  TensorChecksum checksum;
  for_each_parameter_state(
      optimizer, [&checksum](const std::string& name, const torch::Tensor&, const auto* state) {
        if (!state || !*state) {
          checksum.add(name, torch::Tensor());
          return;
        }
        const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state->get());
        if (!adamw)
          throw std::logic_error("optimizer_checksum: " + name +
                                 " has a state other than AdamW's; list its tensors here");
        checksum.add(name + " step", adamw->step());
        checksum.add(name + " exp_avg", adamw->exp_avg());
        checksum.add(name + " exp_avg_sq", adamw->exp_avg_sq());
        checksum.add(name + " max_exp_avg_sq", adamw->max_exp_avg_sq());
      });
  return checksum.value();
}

}  // namespace moevit
