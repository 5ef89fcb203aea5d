#include "app/distributed/world_setup.h"

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace moevit {

namespace {

// The arguments each launched rank gets: train's without --nproc and its value.
std::vector<std::string> arguments_without_nproc(const std::vector<std::string>& train_args) {
  std::vector<std::string> kept{"train"};
  for (size_t i = 0; i < train_args.size(); ++i) {
    const std::string& argument = train_args[i];
    if (argument == "--nproc") {
      ++i;
      continue;
    }
    if (argument.rfind("--nproc=", 0) == 0) continue;
    kept.push_back(argument);
  }
  return kept;
}

}  // namespace

std::optional<std::string> environment_variable(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value ? std::optional<std::string>(value) : std::nullopt;
}

WorldOptions resolve_world_options(
    const WorldFlags& flags, std::chrono::milliseconds timeout,
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  WorldOptions world;
  if (const std::optional<WorldOptions> from_environment = world_from_environment(lookup))
    world = *from_environment;
  if (flags.world_size) world.world_size = *flags.world_size;
  if (flags.rank) world.rank = *flags.rank;
  if (flags.master) parse_master_address(*flags.master, world);
  if (flags.backend) world.backend = *flags.backend;
  world.timeout = timeout;
  world.check();
  return world;
}

std::optional<LaunchOptions> local_launch_options(const std::vector<std::string>& train_args,
                                                  int64_t num_processes) {
  if (environment_variable("RANK")) return std::nullopt;
  LaunchOptions launch;
  launch.num_processes = num_processes;  // launch_local_processes refuses N < 1
  launch.arguments = arguments_without_nproc(train_args);
  const int64_t cores = static_cast<int64_t>(std::thread::hardware_concurrency());
  launch.threads_per_process = std::max<int64_t>(1, cores / std::max<int64_t>(1, num_processes));
  return launch;
}

}  // namespace moevit
