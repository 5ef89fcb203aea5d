// Files a run writes (checkpoints, config.yaml, figures, CSV) appear whole or not at all: each
// is written to PATH.tmp, then renamed over PATH.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace moevit {

// Writes through `write(temporary_path)`, then renames onto `path`: a crash or an exception
// at any moment leaves the previous file intact. The temporary file is removed on failure.
// Creates `path`'s parent folders.
void write_atomically(const std::string& path,
                      const std::function<void(const std::string& temporary_path)>& write);

// `size` bytes from `data` through write_atomically; errors name the temporary path.
void write_bytes_atomically(const std::string& path, const char* data, std::size_t size);

// Writes `text` through write_atomically; errors name the temporary path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace moevit
