// Whether CPU autocast (bf16) is on in this thread. The API's names changed in LibTorch 2.4
// (is_autocast_enabled(device)); 1.13 has is_cpu_enabled().
#pragma once

namespace moevit {

bool cpu_autocast_enabled();

// Switches CPU autocast on (bf16) or off for this thread; for tests (the app's runtime sets
// the dtype for CPU and CUDA itself).
void set_cpu_autocast(bool enabled);

}  // namespace moevit
