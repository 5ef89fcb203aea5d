#include "app/run/archive_tensors.h"

#include <torch/optim/adamw.h>

#include <set>
#include <stdexcept>

#include "app/run/optimizer_state_key.h"

namespace moevit {

namespace {

[[noreturn]] void fail(const std::string& error_prefix, const std::string& what) {
  throw std::runtime_error(error_prefix + ": " + what);
}

// "Float [3, 8]"
std::string describe(const torch::Tensor& tensor) {
  return std::string(c10::toString(tensor.scalar_type())) + " " + c10::str(tensor.sizes());
}

// The storage bytes `tensor` reaches: one past its last element, from its offset, sizes and
// strides; false where they are negative or overflow.
bool bytes_reached(const torch::Tensor& tensor, uint64_t* bytes) {
  if (tensor.storage_offset() < 0) return false;
  uint64_t last = static_cast<uint64_t>(tensor.storage_offset());
  for (int64_t dim = 0; dim < tensor.dim(); ++dim) {
    const int64_t size = tensor.sizes()[dim], stride = tensor.strides()[dim];
    if (size < 0 || stride < 0) return false;
    if (size == 0) {
      *bytes = 0;  // no element, nothing read
      return true;
    }
    uint64_t span = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(size - 1), static_cast<uint64_t>(stride),
                               &span) ||
        __builtin_add_overflow(last, span, &last))
      return false;
  }
  uint64_t elements = 0;
  return !__builtin_add_overflow(last, uint64_t{1}, &elements) &&
         !__builtin_mul_overflow(elements, static_cast<uint64_t>(tensor.element_size()), bytes);
}

void check_within_storage(const torch::Tensor& tensor, const std::string& name,
                          const std::string& error_prefix) {
  if (!tensor.defined() || !tensor.has_storage()) return;
  uint64_t bytes = 0;
  if (!bytes_reached(tensor, &bytes))
    fail(error_prefix, name + ": impossible sizes " + c10::str(tensor.sizes()) + " and strides " +
                           c10::str(tensor.strides()) + " (damaged)");
  if (bytes > tensor.storage().nbytes())
    fail(error_prefix, name + ": " + describe(tensor) + " reaches " + std::to_string(bytes) +
                           " bytes of a storage of " + std::to_string(tensor.storage().nbytes()) +
                           " (damaged)");
}

void check_archive_within_storage(torch::serialize::InputArchive& archive,
                                  const std::string& prefix, const std::string& error_prefix) {
  for (const std::string& key : archive.keys()) {
    torch::serialize::InputArchive nested;
    c10::IValue value;
    if (archive.try_read(key, nested))
      check_archive_within_storage(nested, prefix + key + ".", error_prefix);
    else if (archive.try_read(key, value) && value.isTensor())
      check_within_storage(value.toTensor(), prefix + key, error_prefix);
  }
}

void check_fits(torch::serialize::InputArchive& archive, const torch::nn::Module& module,
                const std::string& prefix, const std::string& error_prefix) {
  std::set<std::string> expected;
  const auto check_tensor = [&](const std::string& key, const torch::Tensor& wanted) {
    expected.insert(key);
    if (!wanted.defined()) return;  // Module::save writes nothing a load could check it against
    c10::IValue value;
    if (!archive.try_read(key, value) || !value.isTensor() || !value.toTensor().defined())
      fail(error_prefix, prefix + key + " is missing");
    const torch::Tensor stored = value.toTensor();
    if (stored.scalar_type() != wanted.scalar_type() || stored.sizes() != wanted.sizes())
      fail(error_prefix,
           prefix + key + " is " + describe(stored) + ", expected " + describe(wanted));
    if (!stored.is_non_overlapping_and_dense())
      fail(error_prefix, prefix + key + " is not stored densely (strides " +
                             c10::str(stored.strides()) + "; damaged)");
  };
  for (const auto& item : module.named_parameters(/*recurse=*/false))
    check_tensor(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/false))
    check_tensor(item.key(), item.value());
  for (const auto& child : module.named_children()) {
    if (!child.value()->is_serializable()) continue;  // Module::save skips it, as load does
    expected.insert(child.key());
    torch::serialize::InputArchive nested;
    if (!archive.try_read(child.key(), nested))
      fail(error_prefix, prefix + child.key() + " is missing");
    check_fits(nested, *child.value(), prefix + child.key() + ".", error_prefix);
  }
  for (const std::string& key : archive.keys()) {
    if (expected.count(key)) continue;
    torch::serialize::InputArchive nested;
    c10::IValue value;
    if (archive.try_read(key, nested) || (archive.try_read(key, value) && value.isTensor()))
      fail(error_prefix, prefix + key + " is in the file but not in the model");
  }
}

}  // namespace

void check_tensors_within_storage(torch::serialize::InputArchive& archive,
                                  const std::string& error_prefix) {
  check_archive_within_storage(archive, "", error_prefix);
}

void check_archive_fits_module(torch::serialize::InputArchive& archive,
                               const torch::nn::Module& module, const std::string& error_prefix) {
  check_fits(archive, module, "", error_prefix);
}

void check_optimizer_state_fits(const torch::optim::Optimizer& optimizer,
                                const std::string& error_prefix) {
  for_each_parameter_state(
      optimizer, [&](const std::string& name, const torch::Tensor& parameter, const auto* state) {
        if (!state) return;  // no step taken for it yet
        if (!*state) fail(error_prefix, name + ": its state is empty (damaged)");
        const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(state->get());
        if (!adamw) return;
        for (const auto& [moment, tensor] :
             {std::pair<const char*, torch::Tensor>{"exp_avg", adamw->exp_avg()},
              {"exp_avg_sq", adamw->exp_avg_sq()}}) {
          if (!tensor.defined() || tensor.scalar_type() != parameter.scalar_type() ||
              tensor.sizes() != parameter.sizes())
            fail(error_prefix, name + " " + moment + " is " +
                                   (tensor.defined() ? describe(tensor) : "missing") +
                                   ", its parameter " + describe(parameter));
        }
      });
}

}  // namespace moevit
