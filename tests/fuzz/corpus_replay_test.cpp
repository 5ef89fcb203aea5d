// The fuzz corpora as a normal test (fuzz/fuzz_targets.h): every file of fuzz/corpus/<name>/ —
// the seeds, and each input a fuzzer once crashed on, kept as a regression — goes through its
// target, as the libFuzzer build would run it. A crash, a sanitizer report (in a sanitizer
// build) or a broken invariant fails the test; seeds named valid-* must also be accepted, which
// proves the target reaches past its input's parsing into the code it is there to exercise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"

namespace moevit {

// ctest lists a target by its name, not by the bytes of the struct (found by ADL, so in the
// struct's namespace).
void PrintTo(const FuzzTarget& target, std::ostream* out) {
  *out << target.name;
}

namespace {
namespace fs = std::filesystem;

const fs::path kFuzzDir = fs::path(MOEVIT_SOURCE_DIR) / "fuzz";

std::vector<fs::path> sorted_files(const fs::path& folder) {
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.')
      files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file),
                              std::istreambuf_iterator<char>());
}

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

class CorpusReplay : public ::testing::TestWithParam<FuzzTarget> {};

TEST_P(CorpusReplay, EveryInputRunsAndValidSeedsAreAccepted) {
  const FuzzTarget& target = GetParam();
  const fs::path folder = kFuzzDir / "corpus" / target.name;
  ASSERT_TRUE(fs::is_directory(folder)) << folder << ": expected the target's seed corpus";
  int valid_seeds = 0;
  for (const fs::path& path : sorted_files(folder)) {
    // Printed before the run: if the input crashes the test, ctest's output names it.
    std::cerr << "replaying " << path.string() << "\n";
    const std::vector<uint8_t> bytes = read_bytes(path);
    const bool accepted = target.run(bytes.data(), bytes.size());
    if (starts_with(path.filename().string(), "valid-")) {
      EXPECT_TRUE(accepted) << path << ": a valid-* seed was refused";
      ++valid_seeds;
    }
  }
  EXPECT_GT(valid_seeds, 0) << folder << ": expected at least one valid-* seed";
}

INSTANTIATE_TEST_SUITE_P(Fuzz, CorpusReplay, ::testing::ValuesIn(fuzz_targets()),
                         [](const ::testing::TestParamInfo<FuzzTarget>& info) {
                           return std::string(info.param.name);
                         });

// The three lists of targets agree: fuzz_targets() (what this test replays), the files
// fuzz/fuzz_<name>.cpp (what CMake builds into libFuzzer executables) and fuzz/corpus/<name>/.
TEST(CorpusReplay, EveryTargetFileAndCorpusFolderIsInTheTable) {
  std::set<std::string> table;
  for (const FuzzTarget& target : fuzz_targets()) table.insert(target.name);
  std::set<std::string> files, folders;
  for (const fs::path& path : sorted_files(kFuzzDir)) {
    const std::string name = path.filename().string();
    if (starts_with(name, "fuzz_") && path.extension() == ".cpp")
      files.insert(path.stem().string().substr(5));  // fuzz_config.cpp → config
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(kFuzzDir / "corpus"))
    if (entry.is_directory()) folders.insert(entry.path().filename().string());
  EXPECT_EQ(files, table);
  EXPECT_EQ(folders, table);
}

}  // namespace
}  // namespace moevit
