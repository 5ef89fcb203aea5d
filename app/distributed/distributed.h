// Data-parallel plumbing on LibTorch's own c10d: rendezvous through a TCPStore, a Gloo process
// group (CPU) for the collectives, and the few collectives training needs. No sockets or
// collectives of our own. One process per rank; rank 0 hosts the store.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace moevit {

// Where a process stands in a job and how to reach the others.
struct WorldOptions {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;  // rank on this machine (threads and devices are per machine)
  std::string master_host = "127.0.0.1";
  int64_t master_port = 29500;
  std::string backend = "gloo";  // gloo (CPU); nccl only in CUDA builds
  // Rendezvous and every collective give up after this long, so a dead peer never hangs a rank.
  std::chrono::milliseconds timeout{std::chrono::seconds(120)};

  bool distributed() const { return world_size > 1; }
  // Refuses impossible values with one line naming the option, e.g. "--rank: expected 0 <= rank
  // < world size (2), got 2".
  void check() const;
};

// The torchrun variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) read through
// `lookup` (getenv in the CLI): std::nullopt when RANK and WORLD_SIZE are not both set.
std::optional<WorldOptions> world_from_environment(
    const std::function<std::optional<std::string>(const std::string&)>& lookup);

// "host:port" → host and port into `options`; throws naming --master on anything else.
void parse_master_address(const std::string& address, WorldOptions& options);

class World {
 public:
  // Joins the job: rank 0 opens the store on master_port, the others connect to it; waits
  // (at most options.timeout) until all world_size ranks are there. A single-process world
  // needs no store and no group; its collectives are no-ops.
  explicit World(const WorldOptions& options);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  int64_t rank() const { return options_.rank; }
  int64_t size() const { return options_.world_size; }
  bool is_main() const { return options_.rank == 0; }
  const WorldOptions& options() const { return options_; }

  // In place: every rank ends with the element-wise sum over ranks.
  void all_reduce_sum(torch::Tensor& tensor);
  // In place: every rank ends with `root`'s values.
  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0);
  // Averages the gradients of `parameters` over ranks through one flat buffer (one collective
  // per step instead of one per tensor); parameters without a gradient count as zeros.
  void average_gradients(const std::vector<torch::Tensor>& parameters);
  void barrier();

 private:
  // Runs one collective; its failure becomes one line naming this rank and the timeout.
  void run_collective(const char* name, const std::function<void()>& collective);

  struct Group;
  WorldOptions options_;
  std::unique_ptr<Group> group_;
};

}  // namespace moevit
