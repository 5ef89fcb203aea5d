// How `train` takes its place in a data-parallel job, from what its command line gave: with
// --nproc N it launches N ranks of itself on this machine; as a rank it finds its WorldOptions
// in --rank/--world-size/--master/--backend, else in torchrun's variables, else it is a single
// process. The command line is parsed in app/cmd_train.cpp; these take its values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/distributed/distributed.h"
#include "app/distributed/launcher.h"

namespace moevit {

// The data-parallel options of a command line, each empty when not given.
struct WorldFlags {
  std::optional<int64_t> world_size;   // --world-size
  std::optional<int64_t> rank;         // --rank
  std::optional<std::string> master;   // --master HOST:PORT
  std::optional<std::string> backend;  // --backend
};

// A variable of this process's environment (getenv), or std::nullopt when it is not set.
std::optional<std::string> environment_variable(const std::string& name);

// This process's place in the job: each flag given wins over the torchrun variables read
// through `lookup`, which win over a single process; `timeout` bounds the rendezvous and every
// collective (run.collective_timeout_s). Refuses impossible values (WorldOptions::check).
WorldOptions resolve_world_options(
    const WorldFlags& flags, std::chrono::milliseconds timeout,
    const std::function<std::optional<std::string>(const std::string&)>& lookup =
        environment_variable);

// `train ARGS` with --nproc N in ARGS: the launch of N ranks on this machine, each running
// `train` with ARGS less --nproc and its value, the cores shared out among them. std::nullopt in
// a process a launcher started (RANK is set): that one is a rank, not a launcher.
std::optional<LaunchOptions> local_launch_options(const std::vector<std::string>& train_args,
                                                  int64_t num_processes);

}  // namespace moevit
