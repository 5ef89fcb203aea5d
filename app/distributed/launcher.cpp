#include "app/distributed/launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

[[noreturn]] void exec_rank(const LaunchOptions& options, int64_t rank, int64_t port) {
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
  for (int64_t rank = 0; rank < options.num_processes; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) exec_rank(options, rank, port);
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
      std::fprintf(stderr, "moevit: rank %lld %s; stopping the other ranks\n", (long long)rank,
                   describe_status(status).c_str());
      for (const auto& [child, other_rank] : running) kill(child, SIGTERM);
      kill_at = Clock::now() + options.grace;
    }
  }
  return result;
}

}  // namespace moevit
