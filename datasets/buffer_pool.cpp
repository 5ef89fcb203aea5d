#include "datasets/buffer_pool.h"

#include <ATen/ATen.h>

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

namespace moevit {

namespace {
constexpr size_t kAlignment = 64;  // a cache line; also enough for any SIMD load
}

std::shared_ptr<BufferPool> BufferPool::create(size_t buffer_bytes, size_t max_idle) {
  return std::shared_ptr<BufferPool>(new BufferPool(buffer_bytes, max_idle));
}

BufferPool::BufferPool(size_t buffer_bytes, size_t max_idle)
    : buffer_bytes_(buffer_bytes), max_idle_(max_idle) {}

BufferPool::~BufferPool() {
  for (void* buffer : idle_) std::free(buffer);
}

at::Tensor BufferPool::take_float_tensor(at::IntArrayRef sizes) {
  int64_t num_floats = 1;
  for (int64_t size : sizes) num_floats *= size;
  if (num_floats * sizeof(float) > buffer_bytes_)
    throw std::invalid_argument("BufferPool: a tensor of " + std::to_string(num_floats) +
                                " floats does not fit buffers of " + std::to_string(buffer_bytes_) +
                                " bytes");
  void* buffer = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      buffer = idle_.back();
      idle_.pop_back();
    }
  }
  if (!buffer) {
    // aligned_alloc wants a size that is a non-zero multiple of the alignment.
    const size_t rounded = std::max<size_t>(1, (buffer_bytes_ + kAlignment - 1) / kAlignment);
    buffer = std::aligned_alloc(kAlignment, rounded * kAlignment);
  }
  if (!buffer) throw std::bad_alloc();
  return at::from_blob(
      buffer, sizes, [pool = shared_from_this()](void* data) { pool->give_back(data); },
      at::TensorOptions().dtype(at::kFloat));
}

size_t BufferPool::idle_buffers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

void BufferPool::give_back(void* buffer) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(buffer);
      return;
    }
  }
  std::free(buffer);
}

}  // namespace moevit
