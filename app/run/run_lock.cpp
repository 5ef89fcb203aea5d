#include "app/run/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace moevit {

namespace {

constexpr const char* kLockFileName = "train.lock";

// Who wrote a lock file: "pid host" on its one line.
struct LockOwner {
  long pid = 0;
  std::string host;

  std::string describe() const {
    return "pid " + std::to_string(pid) + (host.empty() ? "" : " on " + host);
  }
};

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

LockOwner read_owner(int descriptor) {
  char text[512] = {};
  const ssize_t length = pread(descriptor, text, sizeof text - 1, 0);
  LockOwner owner;
  if (length > 0)
    std::istringstream(std::string(text, static_cast<size_t>(length))) >> owner.pid >> owner.host;
  return owner;
}

void write_owner(int descriptor, const std::string& path) {
  const std::string text = std::to_string(getpid()) + " " + this_host() + "\n";
  if (ftruncate(descriptor, 0) != 0 ||
      pwrite(descriptor, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw std::runtime_error(path + ": cannot write the run's lock file: " + std::strerror(errno));
}

// Whether `descriptor` is still the file at `path`: a holder that finishes removes the file
// before releasing it, so a lock won just then may be on a file no longer in the folder.
bool names_same_file(int descriptor, const std::string& path) {
  struct stat held {
  }, named{};
  return fstat(descriptor, &held) == 0 && stat(path.c_str(), &named) == 0 &&
         held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

}  // namespace

RunLock::RunLock(const std::string& output_dir, std::string* note)
    : path_(output_dir + "/" + kLockFileName), output_dir_(output_dir) {
  std::error_code error;
  created_folder_ = std::filesystem::create_directories(output_dir, error);
  if (error)
    throw std::runtime_error(output_dir + ": cannot create the output folder: " + error.message());
  while (true) {
    const int descriptor = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (descriptor < 0)
      throw std::runtime_error(path_ + ": cannot create the run's lock file: " +
                               std::strerror(errno) + " (is the output folder writable?)");
    if (flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
      const LockOwner owner = read_owner(descriptor);
      close(descriptor);
      throw std::runtime_error(path_ + ": another training (" + owner.describe() +
                               ") is writing this output folder; wait for it or give another "
                               "--out");
    }
    if (!names_same_file(descriptor, path_)) {
      close(descriptor);
      continue;
    }
    const LockOwner previous = read_owner(descriptor);
    if (previous.pid > 0 && note)
      *note = "moevit: " + path_ + ": took over the lock of " + previous.describe() +
              ", which no longer holds it (it stopped without removing it)";
    descriptor_ = descriptor;
    break;
  }
  try {
    write_owner(descriptor_, path_);
  } catch (...) {
    close(descriptor_);
    throw;
  }
}

RunLock::~RunLock() {
  // Removed while still held, so no other run can take a file that is about to disappear.
  unlink(path_.c_str());
  close(descriptor_);
  // A run refused before it wrote anything (a bad resume, no images) leaves no empty folder.
  if (created_folder_) rmdir(output_dir_.c_str());
}

}  // namespace moevit
