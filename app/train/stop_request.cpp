#include "app/train/stop_request.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace moevit {

namespace {

// The handler may run on any thread (loader workers, LibTorch's pool) at any moment: it touches
// only lock-free atomics and buffers filled before it was installed, and calls only
// async-signal-safe functions (getppid, write, unlink, _exit).
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free,
              "the signal handler needs lock-free atomics");

constexpr int kCaughtSignals[] = {SIGINT, SIGTERM};

struct Note {
  char text[1024] = {};
  size_t length = 0;
};

std::atomic<bool> g_installed{false};
std::atomic<int> g_first_signal{0};
// Requests are counted by where they came from: the parent process (moevit's launcher passing
// on a signal it got, or a script that started the run) or anywhere else (the terminal, which
// signals the whole process group, `kill`, a scheduler). Ctrl-C reaches a rank of `--nproc`
// twice, from the terminal and from the launcher, and is one request; two from one source are
// two requests, and the second stops at once.
std::atomic<int> g_from_parent{0}, g_from_elsewhere{0};
bool g_announce = false;
Note g_first_note, g_second_note;
struct sigaction g_previous[2];

std::atomic<bool> g_partial_file_set{false};
char g_partial_file[4096] = {};

void write_note(const Note& note) {
  if (!g_announce) return;
  const ssize_t written = write(STDERR_FILENO, note.text, note.length);
  (void)written;  // nothing to do about a failed write to stderr in a handler
}

void on_stop_signal(int signal, siginfo_t* info, void* /*context*/) {
  const int saved_errno = errno;  // the interrupted code may be about to read errno
  const bool from_parent = info && info->si_code == SI_USER && info->si_pid == getppid();
  const int requests_from_source =
      1 + (from_parent ? g_from_parent : g_from_elsewhere).fetch_add(1);
  int none = 0;
  if (g_first_signal.compare_exchange_strong(none, signal)) {
    write_note(g_first_note);
  } else if (requests_from_source >= 2) {
    if (g_partial_file_set.load()) unlink(g_partial_file);
    write_note(g_second_note);
    _exit(128 + signal);
  }
  errno = saved_errno;
}

void compose(Note& note, const std::string& text) {
  note.length = std::min(text.size(), sizeof note.text);
  std::memcpy(note.text, text.data(), note.length);
}

}  // namespace

StopSignals::StopSignals(const std::string& checkpoint_path, bool announce) {
  if (g_installed.exchange(true))
    throw std::logic_error("StopSignals: another one is already catching the signals");
  g_first_signal = 0;
  g_from_parent = 0;
  g_from_elsewhere = 0;
  g_announce = announce;
  // The progress line redraws in place on a terminal: start the note on a line of its own.
  const std::string start = isatty(STDERR_FILENO) ? "\nmoevit: " : "moevit: ";
  compose(g_first_note, start + "stop requested: finishing this step, then writing " +
                            checkpoint_path + " (signal again to stop at once)\n");
  compose(g_second_note, start + "stopped at once by a second signal; the last good checkpoint, " +
                             "if any, is " + checkpoint_path + "\n");
  struct sigaction action {};
  action.sa_sigaction = on_stop_signal;
  // SA_RESTART: reads and writes that the signal interrupts go on instead of failing with EINTR.
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (const int signal : kCaughtSignals) sigaddset(&action.sa_mask, signal);
  for (size_t index = 0; index < 2; ++index) {
    sigaction(kCaughtSignals[index], nullptr, &g_previous[index]);
    // A signal the process was started to ignore (`cmd &` in a script ignores SIGINT) stays so.
    if (g_previous[index].sa_handler != SIG_IGN) sigaction(kCaughtSignals[index], &action, nullptr);
  }
}

StopSignals::~StopSignals() {
  for (size_t index = 0; index < 2; ++index)
    sigaction(kCaughtSignals[index], &g_previous[index], nullptr);
  g_installed = false;
}

int StopSignals::received() const {
  return g_first_signal.load();
}

PartialFileGuard::PartialFileGuard(const std::string& path) {
  g_partial_file_set = false;
  if (path.size() >= sizeof g_partial_file) return;  // too long to keep: left behind at worst
  std::memcpy(g_partial_file, path.c_str(), path.size() + 1);
  g_partial_file_set = true;
}

PartialFileGuard::~PartialFileGuard() {
  g_partial_file_set = false;
}

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace moevit
