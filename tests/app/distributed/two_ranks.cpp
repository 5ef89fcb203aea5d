#include "tests/app/distributed/two_ranks.h"

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "app/distributed/distributed.h"
#include "app/distributed/launcher.h"

namespace moevit::testing {

void with_two_ranks(const std::function<void(World&)>& body) {
  WorldOptions options;
  options.world_size = 2;
  options.master_port = free_loopback_port();
  options.timeout = std::chrono::seconds(20);
  std::vector<std::thread> ranks;
  std::vector<std::string> failures(2);
  for (int64_t rank = 0; rank < 2; ++rank)
    ranks.emplace_back([&, rank] {
      try {
        WorldOptions mine = options;
        mine.rank = rank;
        World world(mine);
        body(world);
        world.barrier();  // rank 0's store outlives the other's last collective
      } catch (const std::exception& error) {
        failures[rank] = error.what();
      }
    });
  for (std::thread& rank : ranks) rank.join();
  EXPECT_EQ(failures[0], "") << "rank 0";
  EXPECT_EQ(failures[1], "") << "rank 1";
}

}  // namespace moevit::testing
