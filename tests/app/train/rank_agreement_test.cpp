#include "app/train/rank_agreement.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "app/distributed/distributed.h"
#include "app/run/run_lock.h"
#include "tests/app/distributed/two_ranks.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::TempDir;
using testing::with_two_ranks;

TEST(RankAgreement, EveryRankStopsForTheSignalAnyRankGot) {
  with_two_ranks([](World& world) {
    const bool rank0 = world.rank() == 0;
    EXPECT_EQ(agreed_stop_signal(0, &world), 0);
    EXPECT_EQ(agreed_stop_signal(rank0 ? 0 : SIGINT, &world), SIGINT);
    EXPECT_EQ(agreed_stop_signal(rank0 ? SIGINT : 0, &world), SIGINT);
    EXPECT_EQ(agreed_stop_signal(rank0 ? SIGINT : SIGTERM, &world), SIGTERM);  // a scheduler's
  });
  EXPECT_EQ(agreed_stop_signal(SIGINT, nullptr), SIGINT);  // one process decides alone
  EXPECT_EQ(agreed_stop_signal(0, nullptr), 0);
}

TEST(RankAgreement, AStepIsSkippedWhenAnyRankSawANonFiniteLoss) {
  with_two_ranks([](World& world) {
    const bool rank0 = world.rank() == 0;
    EXPECT_FALSE(any_rank(false, &world));
    EXPECT_TRUE(any_rank(!rank0, &world));
    EXPECT_TRUE(any_rank(true, &world));
  });
  EXPECT_TRUE(any_rank(true, nullptr));
  EXPECT_FALSE(any_rank(false, nullptr));
}

TEST(RankAgreement, RankZeroAloneHoldsTheOutputFolder) {
  TempDir dir;
  bool holds[2] = {false, false};  // not vector<bool>: its bits share bytes across threads
  with_two_ranks([&](World& world) {
    const std::unique_ptr<RunLock> lock = lock_output_folder(world, dir / "out", nullptr);
    holds[world.rank()] = lock != nullptr;
    world.barrier();  // rank 0 keeps it until both have looked
  });
  EXPECT_TRUE(holds[0]);
  EXPECT_FALSE(holds[1]);
}

TEST(RankAgreement, ALockRefusedToRankZeroStopsEveryRank) {
  TempDir dir;
  const RunLock first(dir / "out", nullptr);  // another training holds the folder
  std::vector<std::string> errors(2);
  with_two_ranks([&](World& world) {
    errors[world.rank()] =
        testing::error_message([&] { lock_output_folder(world, dir / "out", nullptr); });
  });
  EXPECT_NE(errors[0].find("another training (pid " + std::to_string(getpid())), std::string::npos)
      << errors[0];
  EXPECT_EQ(errors[1],
            "rank 1: rank 0 could not lock " + (dir / "out") + " (its own line says why)");
}

}  // namespace
}  // namespace moevit
