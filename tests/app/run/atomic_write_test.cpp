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

using testing::read_all;
using testing::TempDir;

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

TEST(AtomicWrite, CheckedFileWriterReportsTheFirstWriteErrorAtClose) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  CheckedFileWriter file("/dev/full");  // every write fails with ENOSPC
  EXPECT_EQ(file.write("abc", 3), 3u);  // as if written: the caller goes on to its end
  EXPECT_EQ(file.write("defg", 4), 4u);
  EXPECT_EQ(testing::error_message([&] { file.close(); }),
            "/dev/full: write failed (No space left on device)");
}

TEST(AtomicWrite, CheckedFileWriterNamesAFileItCannotCreate) {
  TempDir dir;
  EXPECT_EQ(testing::error_message([&] { CheckedFileWriter file(dir / "missing/x.txt"); }),
            dir / "missing/x.txt" + ": cannot open for writing (No such file or directory)");
}

TEST(AtomicWrite, AFullDiskFailsTheWriteAndKeepsTheOldFile) {
  if (!std::filesystem::exists("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  TempDir dir;
  const std::string path = dir / "config.yaml";
  write_text_file(path, "old");
  std::filesystem::create_symlink("/dev/full", path + ".tmp");  // the temporary on a full disk
  EXPECT_EQ(testing::error_message([&] { write_text_file(path, "new"); }),
            path + ".tmp: write failed (No space left on device)");
  std::error_code ignored;
  const bool temporary_left = std::filesystem::symlink_status(path + ".tmp", ignored).type() !=
                              std::filesystem::file_type::not_found;
  std::filesystem::remove(path + ".tmp", ignored);  // never leave a link to /dev/full behind
  EXPECT_FALSE(temporary_left);
  EXPECT_EQ(read_all(path), "old");
}

}  // namespace
}  // namespace moevit
