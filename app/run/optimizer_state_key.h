// The key under which torch::optim::Optimizer keeps a parameter's state: the checkpoint reads
// and checks the state of each parameter by it, and FusedAdamW steps through it.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <memory>

#include <sstream>
#include <string>
#include <type_traits>

namespace moevit {

// The address of the parameter's TensorImpl, as text in LibTorch 1.13 (c10::guts::to_string
// of the pointer), as the pointer itself in later versions. `state_map` is the optimizer's
// state(); the key's type is deduced from it, so both versions compile.
template <typename StateMap>
typename StateMap::key_type optimizer_state_key(const StateMap& state_map,
                                                const torch::Tensor& parameter) {
  using Key = typename StateMap::key_type;
  (void)state_map;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << parameter.unsafeGetTensorImpl();
    return text.str();
  } else {
    return static_cast<Key>(parameter.unsafeGetTensorImpl());
  }
}

// Calls visit(name, parameter, state) for each parameter of each group, in order: `name` is
// "group G parameter I", `state` points at its entry in the optimizer's state, or is null when
// no step has made one yet (the entry itself may hold null in a damaged file).
template <typename Visit>
void for_each_parameter_state(const torch::optim::Optimizer& optimizer, Visit visit) {
  const auto& states = optimizer.state();
  for (size_t group = 0; group < optimizer.param_groups().size(); ++group) {
    const auto& parameters = optimizer.param_groups()[group].params();
    for (size_t index = 0; index < parameters.size(); ++index) {
      const auto found = states.find(optimizer_state_key(states, parameters[index]));
      const std::unique_ptr<torch::optim::OptimizerParamState>* state =
          found == states.end() ? nullptr : &found->second;
      visit("group " + std::to_string(group) + " parameter " + std::to_string(index),
            parameters[index], state);
    }
  }
}

}  // namespace moevit
