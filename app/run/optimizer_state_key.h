// The key under which torch::optim::Optimizer keeps a parameter's state: the checkpoint reads
// and checks the state of each parameter by it, and FusedAdamW steps through it.
#pragma once

#include <torch/types.h>

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

}  // namespace moevit
