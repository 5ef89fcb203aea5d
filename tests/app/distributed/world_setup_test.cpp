// How `train` takes its place in a job: flags over torchrun's variables over one process, and
// the command line each locally launched rank gets.
#include "app/distributed/world_setup.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

// A fake environment holding `variables`, read as resolve_world_options reads getenv.
std::function<std::optional<std::string>(const std::string&)> environment(
    std::map<std::string, std::string> variables) {
  return [variables](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

TEST(WorldSetup, FlagsWinOverTheTorchrunVariablesWhichWinOverOneProcess) {
  const WorldOptions single =
      resolve_world_options(WorldFlags{}, std::chrono::seconds(5), environment({}));
  EXPECT_EQ(single.world_size, 1);
  EXPECT_EQ(single.rank, 0);
  EXPECT_EQ(single.timeout.count(), 5000);

  const auto torchrun = environment(
      {{"RANK", "1"}, {"WORLD_SIZE", "4"}, {"MASTER_ADDR", "10.0.0.2"}, {"MASTER_PORT", "29400"}});
  const WorldOptions launched =
      resolve_world_options(WorldFlags{}, std::chrono::seconds(5), torchrun);
  EXPECT_EQ(launched.rank, 1);
  EXPECT_EQ(launched.world_size, 4);
  EXPECT_EQ(launched.master_host, "10.0.0.2");
  EXPECT_EQ(launched.master_port, 29400);

  WorldFlags flags;
  flags.rank = 3;
  flags.master = "127.0.0.1:29501";
  const WorldOptions flagged = resolve_world_options(flags, std::chrono::seconds(5), torchrun);
  EXPECT_EQ(flagged.rank, 3);
  EXPECT_EQ(flagged.world_size, 4);  // from WORLD_SIZE
  EXPECT_EQ(flagged.master_host, "127.0.0.1");
  EXPECT_EQ(flagged.master_port, 29501);
}

TEST(WorldSetup, ImpossibleRankIsRefusedNamingTheOption) {
  WorldFlags flags;
  flags.world_size = 2;
  flags.rank = 2;
  const std::string message = testing::error_message(
      [&] { resolve_world_options(flags, std::chrono::seconds(5), environment({})); });
  EXPECT_NE(message.find("--rank: expected 0 <= rank < world size (2), got 2"), std::string::npos)
      << message;
}

TEST(WorldSetup, LaunchedRanksGetTrainsArgumentsWithoutNproc) {
  if (environment_variable("RANK")) GTEST_SKIP() << "RANK is set: this process is a rank";
  const std::optional<LaunchOptions> launch = local_launch_options(
      {"--config", "c.yaml", "--nproc", "2", "--set", "moe.k=2", "--nproc=2"}, 2);
  ASSERT_TRUE(launch.has_value());
  EXPECT_EQ(launch->num_processes, 2);
  EXPECT_EQ(launch->arguments,
            (std::vector<std::string>{"train", "--config", "c.yaml", "--set", "moe.k=2"}));
  EXPECT_GE(launch->threads_per_process, 1);
  // No process at all is refused in one line, not divided by.
  const std::optional<LaunchOptions> none = local_launch_options({}, 0);
  ASSERT_TRUE(none.has_value());
  EXPECT_THROW(launch_local_processes(*none), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
