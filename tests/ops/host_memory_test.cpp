#include "ops/host_memory.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#if __GLIBC_PREREQ(2, 33)
#define MOEVIT_HAS_MALLINFO2 1
#endif
#endif

namespace moevit {
namespace {

TEST(HostMemory, AFreedLargeTensorStaysInTheProcess) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's allocator replaces glibc's malloc: its arenas, thresholds and mallinfo2
  // are not there to measure (make sanitize).
  GTEST_SKIP() << "glibc's malloc is replaced by AddressSanitizer's";
#elif defined(MOEVIT_HAS_MALLINFO2)
  keep_freed_host_memory();
  constexpr size_t kBytes = size_t{96} << 20;  // past glibc's largest mmap threshold (32 MiB)
  const size_t mapped_before = mallinfo2().hblkhd;
  {
    const torch::Tensor block = torch::ones({static_cast<int64_t>(kBytes)}, torch::kByte);
    // From the heap, not a private mapping that free() would unmap.
    EXPECT_LT(mallinfo2().hblkhd, mapped_before + kBytes);
  }
  // Freed, not trimmed: the next step of that size page-faults nothing.
  EXPECT_GE(mallinfo2().fordblks, kBytes);
#else
  GTEST_SKIP() << "glibc 2.33 or later only (mallinfo2)";
#endif
}

}  // namespace
}  // namespace moevit
