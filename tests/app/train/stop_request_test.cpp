// The signal handling of a training run. The second signal ends the process, so those cases run
// in a forked child; after fork the child makes async-signal-safe calls only (raise, write,
// sigprocmask, sigsuspend, _exit), as the test process has threads.
#include "app/train/stop_request.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

// The exit status of a child that exited, or -1 when a signal ended it.
int exit_status_of(pid_t child) {
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(StopSignals, TheFirstSignalAsksToStopAndASecondStopsAtOnce) {
  TempDir dir;
  const std::string log = dir / "stderr.log", partial = dir / "last.pt.tmp";
  testing::write_text(partial, "half a checkpoint");
  pid_t child = 0;
  {
    StopSignals signals(dir / "last.pt", /*announce=*/true);
    const PartialFileGuard writing(partial);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ASSERT_GE(log_fd, 0);
    child = fork();
    if (child == 0) {
      dup2(log_fd, STDERR_FILENO);
      raise(SIGINT);  // the first request: recorded, the process goes on
      if (signals.received() != SIGINT) _exit(3);
      raise(SIGTERM);  // a second from the same source: exits at once with 128 + SIGTERM
      _exit(4);
    }
    close(log_fd);
    ASSERT_EQ(exit_status_of(child), 128 + SIGTERM);
  }
  EXPECT_FALSE(std::filesystem::exists(partial));  // the partial file went with it
  const std::string notes = read_all(log);
  EXPECT_NE(notes.find("moevit: stop requested: finishing this step, then writing " +
                       (dir / "last.pt") + " (signal again to stop at once)\n"),
            std::string::npos)
      << notes;
  EXPECT_NE(notes.find("moevit: stopped at once by a second signal; the last good checkpoint, "
                       "if any, is " +
                       (dir / "last.pt") + "\n"),
            std::string::npos)
      << notes;
}

// Ctrl-C reaches a rank of `--nproc` from the terminal and again from the launcher (its
// parent): one request. Two from the parent are two.
TEST(StopSignals, ACopyFromTheParentIsTheSameRequest) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  StopSignals signals("last.pt", /*announce=*/false);
  const pid_t child = fork();
  if (child == 0) {
    raise(SIGINT);  // as from the terminal: the first request
    // SIGINT is held back between the notes to the parent and let through only while waiting
    // (sigsuspend), so each of the parent's signals is handled at a known point.
    sigset_t held, waiting;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigprocmask(SIG_BLOCK, &held, &waiting);
    sigdelset(&waiting, SIGINT);
    const char note = 'n';
    if (write(ready[1], &note, 1) != 1) _exit(5);
    sigsuspend(&waiting);  // the parent's first SIGINT: a copy, handled, the child goes on
    if (write(ready[1], &note, 1) != 1) _exit(5);
    sigsuspend(&waiting);  // the parent's second SIGINT: exits 130 from the handler
    _exit(6);
  }
  close(ready[1]);
  char note = 0;
  ASSERT_EQ(read(ready[0], &note, 1), 1);
  kill(child, SIGINT);
  ASSERT_EQ(read(ready[0], &note, 1), 1) << "the copy from the parent stopped the child";
  kill(child, SIGINT);
  EXPECT_EQ(exit_status_of(child), 128 + SIGINT);
  close(ready[0]);
}

TEST(StopSignals, RecordsTheSignalKeepsIgnoredOnesAndRestoresTheHandlers) {
  struct sigaction before {
  }, during{}, after{}, ignored{};
  sigaction(SIGINT, nullptr, &before);
  ignored.sa_handler = SIG_IGN;
  struct sigaction previous_term {};
  sigaction(SIGTERM, &ignored, &previous_term);  // as a parent may leave it
  {
    StopSignals signals("last.pt", /*announce=*/false);
    EXPECT_EQ(signals.received(), 0);
    sigaction(SIGINT, nullptr, &during);
    EXPECT_TRUE(during.sa_flags & SA_SIGINFO);
    sigaction(SIGTERM, nullptr, &during);
    EXPECT_EQ(during.sa_handler, SIG_IGN);  // still ignored, not caught
    EXPECT_THROW(StopSignals("other.pt", false), std::logic_error);
    raise(SIGINT);  // one request: recorded, this process goes on
    EXPECT_EQ(signals.received(), SIGINT);
  }
  sigaction(SIGINT, nullptr, &after);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  sigaction(SIGTERM, &previous_term, nullptr);
  // A fresh one starts with nothing received.
  const StopSignals again("last.pt", /*announce=*/false);
  EXPECT_EQ(again.received(), 0);
}

TEST(StopSignals, NamesTheSignals) {
  EXPECT_EQ(signal_name(SIGINT), "SIGINT");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGHUP), "signal " + std::to_string(SIGHUP));
}

}  // namespace
}  // namespace moevit
