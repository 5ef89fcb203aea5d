#include "app/distributed/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>

namespace moevit {

namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return std::string("was killed by ") + strsignal(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) {
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// A rank that exits 130 or 143 stopped on SIGINT or SIGTERM at the step all ranks agreed on
// (app/train/rank_agreement.h): the others are stopping there too and are left to finish.
bool stopped_on_signal(int status) {
  return WIFEXITED(status) &&
         (WEXITSTATUS(status) == 128 + SIGINT || WEXITSTATUS(status) == 128 + SIGTERM);
}

// While the launcher waits, SIGINT and SIGTERM sent to it go on to every rank: a scheduler or
// `kill` may signal the launcher alone. The terminal's Ctrl-C reaches the ranks directly too
// (one process group); they count its two copies as one request (app/train/stop_request.cpp).
// The handler reads only lock-free atomics; ranks past the first kForwardedRanks get no copy
// and stop all the same, at the step the ranks agree on.
constexpr size_t kForwardedRanks = 1024;
std::atomic<pid_t> g_rank_pids[kForwardedRanks];
std::atomic<size_t> g_rank_count{0};
std::atomic<int> g_forwarded_signal{0};

void forward_to_ranks(int signal) {
  const int saved_errno = errno;
  g_forwarded_signal = signal;
  const size_t count = g_rank_count.load();
  for (size_t index = 0; index < count; ++index) kill(g_rank_pids[index].load(), signal);
  errno = saved_errno;
}

// Installs the forwarding for its lifetime (not over a signal the launcher was started to
// ignore, as `cmd &` in a script ignores SIGINT). Signals are held back while a rank is forked and
// delivered once its pid is known; the forked rank puts the launcher's own handlers back before it
// execs.
class SignalForwarding {
 public:
  SignalForwarding() {
    g_rank_count = 0;
    g_forwarded_signal = 0;
    struct sigaction action {};
    action.sa_handler = forward_to_ranks;
    sigemptyset(&action.sa_mask);
    for (size_t index = 0; index < 2; ++index) {
      sigaction(kSignals[index], nullptr, &previous_[index]);
      if (previous_[index].sa_handler != SIG_IGN) sigaction(kSignals[index], &action, nullptr);
    }
    sigemptyset(&held_);
    for (const int signal : kSignals) sigaddset(&held_, signal);
  }
  ~SignalForwarding() {
    restore_handlers();
    g_rank_count = 0;
  }
  SignalForwarding(const SignalForwarding&) = delete;
  SignalForwarding& operator=(const SignalForwarding&) = delete;

  // Around fork: hold the signals back (in the parent, until add_and_release; in the child,
  // until undo_in_child, which only async-signal-safe calls make).
  void hold() { sigprocmask(SIG_BLOCK, &held_, &unheld_); }
  void undo_in_child() const {
    restore_handlers();
    sigprocmask(SIG_SETMASK, &unheld_, nullptr);
  }
  void add_and_release(pid_t pid) {
    const size_t count = g_rank_count.load();
    if (pid > 0 && count < kForwardedRanks) {  // never pid 0: kill(0, …) is the whole group
      g_rank_pids[count] = pid;
      g_rank_count = count + 1;
    }
    sigprocmask(SIG_SETMASK, &unheld_, nullptr);
  }
  bool forwarded() const { return g_forwarded_signal.load() != 0; }

 private:
  void restore_handlers() const {
    for (size_t index = 0; index < 2; ++index)
      sigaction(kSignals[index], &previous_[index], nullptr);
  }

  static constexpr int kSignals[2] = {SIGINT, SIGTERM};
  struct sigaction previous_[2];
  sigset_t held_, unheld_;
};

[[noreturn]] void exec_rank(const LaunchOptions& options, int64_t rank, int64_t port,
                            const SignalForwarding& forwarding) {
  const auto set = [](const char* name, const std::string& value) {
    setenv(name, value.c_str(), /*overwrite=*/1);
  };
  set("RANK", std::to_string(rank));
  set("LOCAL_RANK", std::to_string(rank));
  set("WORLD_SIZE", std::to_string(options.num_processes));
  set("LOCAL_WORLD_SIZE", std::to_string(options.num_processes));
  set("MASTER_ADDR", "127.0.0.1");
  set("MASTER_PORT", std::to_string(port));
  std::vector<std::string> arguments{"moevit"};
  arguments.insert(arguments.end(), options.arguments.begin(), options.arguments.end());
  const bool threads_given = std::any_of(
      options.arguments.begin(), options.arguments.end(),
      [](const std::string& arg) { return arg == "--threads" || arg.rfind("--threads=", 0) == 0; });
  if (!threads_given) {
    arguments.push_back("--threads");
    arguments.push_back(std::to_string(options.threads_per_process));
  }
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  forwarding.undo_in_child();  // the rank catches SIGINT/SIGTERM itself (StopSignals)
  execv("/proc/self/exe", argv.data());
  std::fprintf(stderr, "moevit: rank %lld: cannot start /proc/self/exe: %s\n", (long long)rank,
               std::strerror(errno));
  std::_Exit(127);
}

}  // namespace

int64_t free_loopback_port() {
  const int socket_fd = socket(AF_INET, SOCK_STREAM, 0);
  if (socket_fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  const bool bound = bind(socket_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     getsockname(socket_fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(socket_fd);
  if (!bound)
    throw std::runtime_error(std::string("no free loopback port: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

int launch_local_processes(const LaunchOptions& options) {
  if (options.num_processes < 1)
    throw std::invalid_argument("--nproc: expected an integer >= 1, got " +
                                std::to_string(options.num_processes));
  const int64_t port = free_loopback_port();
  std::fflush(stdout);
  std::fflush(stderr);
  std::map<pid_t, int64_t> running;  // pid → rank
  SignalForwarding forwarding;
  for (int64_t rank = 0; rank < options.num_processes; ++rank) {
    forwarding.hold();
    const pid_t pid = fork();
    if (pid == 0) exec_rank(options, rank, port, forwarding);
    const int fork_errno = errno;
    forwarding.add_and_release(pid);
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(fork_errno));
    running[pid] = rank;
  }

  int result = 0;
  std::optional<Clock::time_point> kill_at;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, kill_at ? WNOHANG : 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;  // no children left
    if (pid == 0) {      // waiting out the grace period
      if (Clock::now() >= *kill_at)
        for (const auto& [child, rank] : running) kill(child, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const int64_t rank = running[pid];
    running.erase(pid);
    const bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed && result == 0) {
      result = exit_code_of(status);
      if (!stopped_on_signal(status)) {
        std::fprintf(stderr, "moevit: rank %lld %s; stopping the other ranks\n", (long long)rank,
                     describe_status(status).c_str());
        // After a forwarded signal the others are stopping already: a SIGTERM now would be
        // their second signal and stop them at once, mid-checkpoint.
        if (!forwarding.forwarded())
          for (const auto& [child, other_rank] : running) kill(child, SIGTERM);
        kill_at = Clock::now() + options.grace;
      }
    }
  }
  return result;
}

}  // namespace moevit
