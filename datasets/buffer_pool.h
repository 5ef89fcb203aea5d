// Recycled memory for the loader's batch tensors. A batch of 128×3×224×224 floats is 77 MB;
// glibc serves blocks that large (over 32 MB) straight from the OS, so without reuse every batch
// paid for ~19,000 fresh pages (faulted in and zeroed) and their release: measured, a third of
// the loader's time at batch 128 (docs/data-pipeline.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace moevit {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // Buffers of buffer_bytes each; at most max_idle are kept when returned, the rest are freed.
  static std::shared_ptr<BufferPool> create(size_t buffer_bytes, size_t max_idle);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A float tensor of `sizes` (at most buffer_bytes) in a pooled buffer, uninitialised. The
  // buffer returns to the pool when the last tensor using it dies, on whatever thread; the
  // tensor keeps the pool alive until then.
  at::Tensor take_float_tensor(at::IntArrayRef sizes);

  size_t idle_buffers() const;

 private:
  BufferPool(size_t buffer_bytes, size_t max_idle);
  void give_back(void* buffer);

  const size_t buffer_bytes_;
  const size_t max_idle_;
  mutable std::mutex mutex_;
  std::vector<void*> idle_;
};

}  // namespace moevit
