#include "app/run/run_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::read_all;
using testing::TempDir;

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// "<pid> <host>\n", as a lock file holds its owner.
std::string owner_line(long pid) {
  return std::to_string(pid) + " " + host_name() + "\n";
}

TEST(RunLock, ASecondRunIsRefusedNamingTheHolderUntilTheFirstEnds) {
  TempDir dir;
  const std::string out = dir / "run", lock_file = out + "/train.lock";
  {
    std::string note = "unchanged";
    const RunLock first(out, &note);
    EXPECT_EQ(note, "unchanged");  // nothing was taken over
    EXPECT_EQ(first.path(), lock_file);
    EXPECT_EQ(read_all(lock_file), owner_line(getpid()));
    // Another open file of the same lock, as another process would hold: refused.
    EXPECT_EQ(testing::error_message([&] { RunLock second(out, nullptr); }),
              lock_file + ": another training (pid " + std::to_string(getpid()) + " on " +
                  host_name() +
                  ") is writing this output folder; wait for it or give another --out");
  }
  EXPECT_FALSE(std::filesystem::exists(lock_file));  // removed when the first ended
  std::string note;
  const RunLock after(out, &note);
  EXPECT_EQ(note, "");
}

TEST(RunLock, AStaleLockIsTakenOverWithANote) {
  TempDir dir;
  const std::string out = dir / "run";
  // The pid of a process that has exited and been reaped: it holds nothing.
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  testing::write_text(out + "/train.lock", owner_line(gone));
  std::string note;
  const RunLock lock(out, &note);
  EXPECT_EQ(note, "moevit: " + out + "/train.lock: took over the lock of pid " +
                      std::to_string(gone) + " on " + host_name() +
                      ", which no longer holds it (it stopped without removing it)");
  EXPECT_EQ(read_all(lock.path()), owner_line(getpid()));
}

TEST(RunLock, AFolderThatCannotBeWrittenIsOneLine) {
  TempDir dir;
  testing::write_text(dir / "file", "not a folder");
  const std::string not_a_folder =
      testing::error_message([&] { RunLock(dir / "file/run", nullptr); });
  EXPECT_EQ(not_a_folder.rfind(dir / "file/run: cannot create the output folder: ", 0), 0u)
      << not_a_folder;
  EXPECT_EQ(not_a_folder.find('\n'), std::string::npos);
  if (geteuid() != 0) {  // root writes whatever the permissions say
    std::filesystem::create_directories(dir / "read-only");
    chmod((dir / "read-only").c_str(), 0555);
    EXPECT_EQ(testing::error_message([&] { RunLock(dir / "read-only", nullptr); }),
              dir / "read-only/train.lock" +
                  std::string(": cannot create the run's lock file: Permission denied (is the "
                              "output folder writable?)"));
  }
}

}  // namespace
}  // namespace moevit
