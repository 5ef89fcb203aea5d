// Fuzz target "idx": an IDX file (Fashion-MNIST's format, raw or gzip) as `moevit prepare` reads
// it, once as images and once as labels; the magic number refuses one of the two at once.
// Invariants: what is returned holds exactly what the header's sizes say, and memory follows
// the bytes in the file, not the header's claim (libFuzzer's -malloc_limit_mb catches a reader
// that allocates a claim of gigabytes before reading).
#include <cstdint>
#include <string>
#include <vector>

#include "datasets/idx.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {
namespace {

const char kTarget[] = "idx";

void check_images(const IdxImages& images) {
  if (images.rows < 1 || images.cols < 1 ||
      images.pixels.size() != static_cast<size_t>(images.count * images.rows * images.cols))
    report_finding(kTarget, "read_idx_images returned " + std::to_string(images.pixels.size()) +
                                " pixels for " + std::to_string(images.count) + " images of " +
                                std::to_string(images.rows) + "x" + std::to_string(images.cols));
}

}  // namespace

bool fuzz_idx(const uint8_t* data, size_t size) {
  static ScratchFile scratch(kTarget);
  const std::string& path = scratch.write(data, size);
  const bool images = run_input(kTarget, [&] { check_images(read_idx_images(path)); });
  const bool labels = run_input(kTarget, [&] { read_idx_labels(path); });
  return images || labels;
}

}  // namespace moevit
