// Fuzz target "safetensors": a .safetensors file as `moevit import` and `train --init` read it
// (untrusted: it comes from the Hub or anywhere). Invariant beyond "no crash": a file the reader
// accepts survives write_safetensors and a second read with the same names, dtypes, shapes,
// bytes and metadata.
#include <torch/types.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "app/pretrained/safetensors.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {
namespace {

const char kTarget[] = "safetensors";

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && a.nbytes() == b.nbytes() &&
         (a.nbytes() == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) == 0);
}

void check_round_trip(const SafetensorsFile& read, const std::string& rewritten_path) {
  SafetensorsFile read_again;
  try {
    write_safetensors(rewritten_path, read.tensors, read.metadata);
    read_again = read_safetensors(rewritten_path);
  } catch (const std::exception& error) {
    report_finding(kTarget,
                   std::string("an accepted file does not survive a rewrite: ") + error.what());
  }
  if (read_again.metadata != read.metadata || read_again.tensors.size() != read.tensors.size())
    report_finding(kTarget, "a rewrite changed the metadata or the number of tensors");
  for (const auto& [name, tensor] : read.tensors) {
    const auto found = read_again.tensors.find(name);
    if (found == read_again.tensors.end() || !same_bytes(found->second, tensor))
      report_finding(kTarget, "a rewrite changed " + tensor_label(name));
  }
}

}  // namespace

bool fuzz_safetensors(const uint8_t* data, size_t size) {
  static ScratchFile scratch(kTarget);
  static ScratchFile rewritten("safetensors-rewritten");
  const std::string& path = scratch.write(data, size);
  return run_input(kTarget, [&] { check_round_trip(read_safetensors(path), rewritten.path()); });
}

}  // namespace moevit
