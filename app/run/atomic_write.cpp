#include "app/run/atomic_write.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace moevit {

void write_atomically(const std::string& path,
                      const std::function<void(const std::string& temporary_path)>& write) {
  const std::filesystem::path target(path);
  if (target.has_parent_path()) std::filesystem::create_directories(target.parent_path());
  const std::string temporary = path + ".tmp";
  try {
    write(temporary);
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(temporary, ignored);
    throw;
  }
  // rename(2) replaces the target atomically on POSIX file systems.
  std::filesystem::rename(temporary, target);
}

void write_bytes_atomically(const std::string& path, const char* data, std::size_t size) {
  write_atomically(path, [&](const std::string& temporary_path) {
    std::ofstream out(temporary_path, std::ios::binary);
    out.write(data, static_cast<std::streamsize>(size));
    if (!out) throw std::runtime_error(temporary_path + ": write failed");
  });
}

void write_text_file(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text.data(), text.size());
}

}  // namespace moevit
