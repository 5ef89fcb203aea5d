// What every fuzz target shares (fuzz/fuzz_targets.h): telling an expected refusal from a
// finding, and a scratch file for entry points that read from a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace moevit {

// Runs `feed` on one input: true when it returns, false when it throws one of our expected
// errors (any std::exception: ours, c10::Error, cv::Exception, YAML and JSON errors).
// std::bad_alloc is no refusal but an input that made us allocate what no input of a fuzzer's
// size should: a finding.
bool run_input(const char* target, const std::function<void()>& feed);

// Prints "fuzz_<target>: finding: <what>" to stderr and aborts, so that libFuzzer keeps the input
// as a crash and the corpus replay test fails.
[[noreturn]] void report_finding(const char* target, const std::string& what);

// A file in the system's temp folder named by the process id and `name`, for entry points that
// take a path; rewritten for each input, removed when the process ends normally. Writing it
// throws std::runtime_error outside run_input: a harness failure is no refusal of the input.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& name);  // e.g. "idx": /tmp/moevit-fuzz-<pid>-idx
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }
  // Replaces the file's contents with `size` bytes from `data`; returns path().
  const std::string& write(const uint8_t* data, size_t size);

 private:
  std::string path_;
};

// FNV-1a over the bytes: a seed that a target draws its options from, so that an input and the
// options it runs under travel together (the corpus replays exactly what the fuzzer ran).
uint64_t hash_bytes(const uint8_t* data, size_t size);

}  // namespace moevit
