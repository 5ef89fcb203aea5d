#pragma once

#include <cstdint>

namespace moevit {

class VisionTransformerImpl;

// Sparse vs active parameters (the Mixtral distinction): all parameters the model stores, and
// those one token's forward pass uses — shared weights plus, in each MoE layer, K experts
// (token choice) or E·C / S of them (soft: each token mixes all slots, and the E·C slot rows
// of a group of S tokens are what the experts compute; Expert Choice: the E·C picks of a group
// of S tokens in training), and the shared experts, which every token uses.
struct ParameterCount {
  int64_t total = 0;
  int64_t expert = 0;           // inside expert MLPs, all layers
  double active_per_token = 0;  // shared + the experts one token uses
};

ParameterCount count_parameters(const VisionTransformerImpl& model);

}  // namespace moevit
