// `moevit train --nproc N`: starts N copies of this executable as the ranks of a one-machine
// job (torchrun's variables set for each, loopback rendezvous on a free port, the cores shared
// out), waits for them, and stops the others as soon as one fails, so nothing is left hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

struct LaunchOptions {
  int64_t num_processes = 2;
  // The command line each rank gets after the executable's name (without --nproc).
  std::vector<std::string> arguments;
  // Intra-op threads of each rank when the arguments do not set --threads: cores / N, >= 1.
  int64_t threads_per_process = 1;
  // After one rank fails: how long the others get after SIGTERM before SIGKILL.
  std::chrono::milliseconds grace{std::chrono::seconds(10)};
};

// Runs the job; returns 0 when every rank exits 0, else the exit status of the first rank that
// failed (128 + signal when killed), after one line naming it on stderr.
int launch_local_processes(const LaunchOptions& options);

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
int64_t free_loopback_port();

}  // namespace moevit
