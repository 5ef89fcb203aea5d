#include "fuzz/fuzz_targets.h"

namespace moevit {

const std::vector<FuzzTarget>& fuzz_targets() {
  static const std::vector<FuzzTarget> kTargets = {{"image_header", fuzz_image_header},
                                                   {"image_decode", fuzz_image_decode},
                                                   {"idx", fuzz_idx},
                                                   {"config", fuzz_config},
                                                   {"safetensors", fuzz_safetensors},
                                                   {"checkpoint", fuzz_checkpoint}};
  return kTargets;
}

}  // namespace moevit
