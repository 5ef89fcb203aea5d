#include "app/train/rank_agreement.h"

#include <signal.h>
#include <torch/types.h>

#include <stdexcept>

#include "app/distributed/distributed.h"
#include "app/run/run_lock.h"

namespace moevit {

int agreed_stop_signal(int received, World* world) {
  if (!world || world->size() == 1) return received;
  // Counts of ranks that got SIGTERM and that got any signal: one collective of two numbers.
  torch::Tensor requests =
      torch::tensor({received == SIGTERM ? 1.0 : 0.0, received != 0 ? 1.0 : 0.0}, torch::kDouble);
  world->all_reduce_sum(requests);
  if (requests[0].item<double>() > 0) return SIGTERM;
  return requests[1].item<double>() > 0 ? SIGINT : 0;
}

bool any_rank(bool local, World* world) {
  if (!world || world->size() == 1) return local;
  torch::Tensor count = torch::tensor({local ? 1.0 : 0.0}, torch::kDouble);
  world->all_reduce_sum(count);
  return count.item<double>() > 0;
}

std::unique_ptr<RunLock> lock_output_folder(World& world, const std::string& output_dir,
                                            std::string* note) {
  std::unique_ptr<RunLock> lock;
  std::string refusal;
  if (world.is_main()) {
    try {
      lock = std::make_unique<RunLock>(output_dir, note);
    } catch (const std::runtime_error& error) {
      refusal = error.what();
    }
  }
  torch::Tensor refused = torch::tensor({refusal.empty() ? 0.0 : 1.0}, torch::kDouble);
  world.all_reduce_sum(refused);  // a no-op for one process
  if (refused.item<double>() == 0) return lock;
  if (world.is_main()) throw std::runtime_error(refusal);
  throw std::runtime_error("rank " + std::to_string(world.rank()) + ": rank 0 could not lock " +
                           output_dir + " (its own line says why)");
}

}  // namespace moevit
