#include "app/run/atomic_write.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(AtomicWrite, KeepsTheOldFileWhenWritingFails) {
  TempDir dir;
  const std::string path = dir / "last.pt";
  write_atomically(path, [](const std::string& temporary) { std::ofstream(temporary) << "old"; });
  EXPECT_THROW(write_atomically(path,
                                [](const std::string& temporary) {
                                  std::ofstream(temporary) << "half of the new";
                                  throw std::runtime_error("disk full");  // mid-write failure
                                }),
               std::runtime_error);
  EXPECT_EQ(read_all(path), "old");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  write_atomically(path, [](const std::string& temporary) { std::ofstream(temporary) << "new"; });
  EXPECT_EQ(read_all(path), "new");
}

TEST(AtomicWrite, TextFileCreatesItsFolderAndReplacesTheOldText) {
  TempDir dir;
  const std::string path = dir / "run/config.yaml";
  write_text_file(path, "model:\n  dim: 8\n");
  EXPECT_EQ(read_all(path), "model:\n  dim: 8\n");
  write_text_file(path, "");
  EXPECT_EQ(read_all(path), "");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace moevit
