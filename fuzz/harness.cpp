#include "fuzz/harness.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <stdexcept>
#include <system_error>

namespace moevit {

bool run_input(const char* target, const std::function<void()>& feed) {
  try {
    feed();
    return true;
  } catch (const std::bad_alloc& error) {
    report_finding(target, std::string("std::bad_alloc (") + error.what() + ")");
  } catch (const std::exception&) {
    return false;
  }
}

void report_finding(const char* target, const std::string& what) {
  std::fprintf(stderr, "fuzz_%s: finding: %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

ScratchFile::ScratchFile(const std::string& name)
    : path_((std::filesystem::temp_directory_path() /
             ("moevit-fuzz-" + std::to_string(::getpid()) + "-" + name))
                .string()) {}

ScratchFile::~ScratchFile() {
  std::error_code ignored;  // a destructor must not throw; a leftover temp file is harmless
  std::filesystem::remove(path_, ignored);
}

const std::string& ScratchFile::write(const uint8_t* data, size_t size) {
  std::ofstream file(path_, std::ios::binary | std::ios::trunc);
  file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!file.flush()) throw std::runtime_error(path_ + ": cannot write the fuzz input");
  return path_;
}

uint64_t hash_bytes(const uint8_t* data, size_t size) {
  uint64_t hash = 0xcbf29ce484222325;  // FNV-1a 64-bit offset basis and prime
  for (size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 0x100000001b3;
  return hash;
}

}  // namespace moevit
