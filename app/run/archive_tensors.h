// What LibTorch leaves unchecked when a checkpoint's tensors are read, checked before any of them
// is used. Its unpickler gives a stored tensor the sizes, strides and offset the file states
// without comparing them with the bytes of its record; Module::load takes whatever the archive
// holds under a parameter's name (Tensor::set_ keeps the parameter's dtype and reinterprets the
// bytes), ignores tensors the module lacks and names a missing one without its path;
// Optimizer::load takes moments of any shape. Each check throws std::runtime_error
// "<error_prefix>: <tensor name> <what is wrong>", one line.
#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/input-archive.h>

#include <string>

namespace moevit {

// Every tensor in `archive` and its nested archives lies inside its storage, so none can make a
// read (or, as optimizer state, a write) run past its allocation.
void check_tensors_within_storage(torch::serialize::InputArchive& archive,
                                  const std::string& error_prefix);

// The tensors `archive` holds for `module` (as Module::save writes them: its parameters and
// buffers, then each serialisable child's under the child's name) are exactly the module's,
// each of its dtype and shape, each stored densely: none missing, none extra.
void check_archive_fits_module(torch::serialize::InputArchive& archive,
                               const torch::nn::Module& module, const std::string& error_prefix);

// After Optimizer::load: every state the optimizer holds is there (not null) and, for AdamW,
// holds moments of its parameter's dtype and shape.
void check_optimizer_state_fits(const torch::optim::Optimizer& optimizer,
                                const std::string& error_prefix);

}  // namespace moevit
