#pragma once

#include <cstdint>

namespace moevit {

// Slots per expert per group for token-choice routing, as vmoe `compute_capacity`:
// C = ceil(K·S·capacity_factor / E), rounded up to a multiple of `multiple` (vmoe uses 4),
// at least 1 and at most S (top-k picks distinct experts, so no expert can be sent more than
// S tokens of a group: more rows would only multiply zeros).
int64_t compute_capacity(int64_t tokens_per_group, int64_t experts_per_token,
                         double capacity_factor, int64_t num_experts, int64_t multiple = 1);

}  // namespace moevit
