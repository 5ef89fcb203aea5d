// Two ranks of one job inside a test process: a body run on two threads, each with its own
// World over loopback.
#pragma once

#include <functional>

namespace moevit {

class World;

namespace testing {

// Runs `body(world)` for ranks 0 and 1 at once, then a barrier (so rank 0's store outlives the
// other's last collective); an exception on either rank fails the test, naming it.
void with_two_ranks(const std::function<void(World&)>& body);

}  // namespace testing
}  // namespace moevit
