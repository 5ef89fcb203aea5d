#include "app/run/atomic_write.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>
#include <utility>

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
    CheckedFileWriter file(temporary_path);
    file.write(data, size);
    file.close();
  });
}

void write_text_file(const std::string& path, const std::string& text) {
  write_bytes_atomically(path, text.data(), text.size());
}

CheckedFileWriter::CheckedFileWriter(std::string path) : path_(std::move(path)) {
  descriptor_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (descriptor_ < 0)
    throw std::runtime_error(path_ + ": cannot open for writing (" + std::strerror(errno) + ")");
}

CheckedFileWriter::~CheckedFileWriter() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

std::size_t CheckedFileWriter::write(const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  std::size_t written = 0;
  while (first_error_ == 0 && written < size) {
    const ssize_t count = ::write(descriptor_, bytes + written, size - written);
    if (count > 0)
      written += static_cast<std::size_t>(count);
    else if (count < 0 && errno != EINTR)
      first_error_ = errno;
    else if (count == 0)
      first_error_ = EIO;  // write(2) of a non-zero size that writes nothing: no progress
  }
  return size;
}

void CheckedFileWriter::close() {
  if (first_error_ != 0) fail(first_error_);
  // Data on disk before the caller renames the file over the previous one: otherwise a power
  // cut after the rename can leave an empty or partial file under the final name. EINVAL: the
  // file cannot be synced (a pipe, a device), which is no failure of the data.
  if (::fsync(descriptor_) != 0 && errno != EINVAL) fail(errno);
  const int descriptor = std::exchange(descriptor_, -1);
  if (::close(descriptor) != 0) fail(errno);
}

void CheckedFileWriter::fail(int error_number) const {
  throw std::runtime_error(path_ + ": write failed (" + std::strerror(error_number) + ")");
}

}  // namespace moevit
