// Fuzz target "image_header": the sniffer that reads an image file's format and size before any
// pixel is decoded, and the integrity check that refuses cut-short PNG and JPEG files. Both walk
// attacker-controlled lengths and offsets, so every read must stay inside the bytes.
#include <string>
#include <vector>

#include "datasets/image_header.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {

bool fuzz_image_header(const uint8_t* data, size_t size) {
  const std::vector<uint8_t> bytes(data, data + size);
  return run_input("image_header", [&] {
    const ImageHeader header = read_image_header(bytes);
    if (header.width <= 0 || header.height <= 0)  // read_image_header's promise
      report_finding("image_header", to_string(header.format) + " header accepted with size " +
                                         std::to_string(header.width) + "x" +
                                         std::to_string(header.height));
    check_image_intact(bytes, header.format);
  });
}

}  // namespace moevit
