#include "ops/host_memory.h"

#include <limits>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace moevit {

// A training step allocates and frees the same large activations and gradients every time.
// glibc hands freed blocks back to the kernel (large ones are mmapped, the heap top is
// trimmed), so each step would page-fault its memory in again: a 6272×768 fp32 add took 4.5 ms
// instead of 0.8 ms (docs/performance.md). Here every block comes from the heap (mmap is off:
// glibc's mmap threshold cannot be raised past 32 MiB, and one expert layer's weight gradient
// at E = 128 is 75 MB), and the heap top is not trimmed below 2 GiB: a run holds on to its peak,
// as PyTorch's caching allocators do on GPUs.
void keep_freed_host_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
#endif
}

}  // namespace moevit
