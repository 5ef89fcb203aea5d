#include "moe/capacity.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace moevit {

int64_t compute_capacity(int64_t tokens_per_group, int64_t experts_per_token,
                         double capacity_factor, int64_t num_experts, int64_t multiple) {
  if (tokens_per_group < 1 || experts_per_token < 1 || num_experts < 1 || multiple < 1 ||
      !(capacity_factor > 0))
    throw std::invalid_argument(
        "compute_capacity: expected tokens_per_group, experts_per_token, num_experts, multiple "
        ">= 1 and capacity_factor > 0, got " +
        std::to_string(tokens_per_group) + ", " + std::to_string(experts_per_token) + ", " +
        std::to_string(num_experts) + ", " + std::to_string(multiple) + ", " +
        std::to_string(capacity_factor));
  // The small epsilon keeps 49·1.0/7 = 7 from becoming 8 through floating-point error.
  const double exact = experts_per_token * tokens_per_group * capacity_factor / num_experts;
  int64_t capacity = static_cast<int64_t>(std::ceil(exact - 1e-9));
  capacity = (capacity + multiple - 1) / multiple * multiple;
  return std::clamp<int64_t>(capacity, 1, tokens_per_group);
}

}  // namespace moevit
