// Whether CPU autocast (bf16) is on in this thread. The query's name changed in LibTorch 2.4
// (is_autocast_enabled(device)); 1.13 has is_cpu_enabled().
#pragma once

namespace moevit {

bool cpu_autocast_enabled();

}  // namespace moevit
