// Autocast switches whose names changed in LibTorch 2.4 (is_autocast_enabled(device),
// set_autocast_enabled(device, on)); 1.13 has is_cpu_enabled(), set_enabled() for CUDA, etc.
#pragma once

namespace moevit {

// Whether CPU autocast is on in this thread (the MoE layer then takes its bf16 paths).
bool cpu_autocast_enabled();

// Switches bf16 autocast on or off for this thread, on the CPU or on CUDA devices:
// `run.precision: bf16` in the app, and the tests.
void set_bf16_autocast(bool cuda, bool enabled);

}  // namespace moevit
