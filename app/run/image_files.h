// The image files a command names on its command line (files, or folders searched
// recursively), and a loader that decodes them in order through the eval transform.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moevit {

struct Config;
class ImageLoader;

// Each input as given when it is not a folder (a missing or unreadable file is reported when it
// is read), else every image file below it (by extension, names starting with '.' skipped),
// sorted. Inputs keep their order. Throws std::invalid_argument naming a folder without images.
std::vector<std::string> list_image_files(const std::vector<std::string>& inputs);

// An ImageLoader over `paths` in this order (labels all 0), eval transform of `config`,
// `batch_size` images a batch. A file that cannot be read is skipped and kept in its summary.
std::unique_ptr<ImageLoader> image_file_loader(const std::vector<std::string>& paths,
                                               const Config& config, int64_t batch_size);

}  // namespace moevit
