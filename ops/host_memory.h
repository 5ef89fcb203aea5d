// How LibTorch's CPU tensors get their memory from glibc, for the whole process (the trainer,
// the benchmarks). A policy, not a model part: the experts' weight gradients are the largest
// blocks a step allocates and frees, but nothing here knows of experts.
#pragma once

namespace moevit {

// Freed host memory stays in the process for the next step instead of going back to the
// kernel. Call once at start-up; a no-op outside glibc.
void keep_freed_host_memory();

}  // namespace moevit
