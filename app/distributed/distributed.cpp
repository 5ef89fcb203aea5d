#include "app/distributed/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <stdexcept>

namespace moevit {

namespace {

[[noreturn]] void refuse(const std::string& option, const std::string& expected,
                         const std::string& got) {
  throw std::invalid_argument(option + ": expected " + expected + ", got " + got);
}

int64_t parse_integer(const std::string& name, const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) refuse(name, "an integer", "'" + text + "'");
  return value;
}

// The network device this rank's Gloo talks through, as torch.distributed picks it: the
// interface named by GLOO_SOCKET_IFNAME if set; loopback for a job on one machine; else the
// address this machine's hostname resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_host) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (master_host == "127.0.0.1" || master_host == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

void WorldOptions::check() const {
  if (world_size < 1) refuse("--world-size", "an integer >= 1", std::to_string(world_size));
  if (rank < 0 || rank >= world_size)
    refuse("--rank", "0 <= rank < world size (" + std::to_string(world_size) + ")",
           std::to_string(rank));
  if (master_port < 1 || master_port > 65535)
    refuse("--master", "a port in 1..65535", std::to_string(master_port));
  if (backend != "gloo" && backend != "nccl")
    refuse("--backend", "gloo or nccl", "'" + backend + "'");
  if (backend == "nccl")
    refuse("--backend", "gloo (this build has no NCCL process group)", "'nccl'");
  if (timeout.count() <= 0) refuse("timeout", "> 0 ms", std::to_string(timeout.count()));
}

std::optional<WorldOptions> world_from_environment(
    const std::function<std::optional<std::string>(const std::string&)>& lookup) {
  const std::optional<std::string> rank = lookup("RANK"), world_size = lookup("WORLD_SIZE");
  if (!rank || !world_size) return std::nullopt;
  WorldOptions options;
  options.rank = parse_integer("RANK", *rank);
  options.world_size = parse_integer("WORLD_SIZE", *world_size);
  if (const auto local_rank = lookup("LOCAL_RANK"))
    options.local_rank = parse_integer("LOCAL_RANK", *local_rank);
  if (const auto host = lookup("MASTER_ADDR")) options.master_host = *host;
  if (const auto port = lookup("MASTER_PORT"))
    options.master_port = parse_integer("MASTER_PORT", *port);
  return options;
}

void parse_master_address(const std::string& address, WorldOptions& options) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size())
    refuse("--master", "host:port, e.g. 10.0.0.1:29500", "'" + address + "'");
  options.master_host = address.substr(0, colon);
  options.master_port = parse_integer("--master", address.substr(colon + 1));
}

struct World::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

World::World(const WorldOptions& options) : options_(options) {
  options_.check();
  if (!options_.distributed()) return;
  group_ = std::make_unique<Group>();
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<std::uint16_t>(options_.master_port);
  store_options.isServer = options_.rank == 0;
  store_options.numWorkers = static_cast<std::size_t>(options_.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = options_.timeout;
  const std::string where = options_.master_host + ":" + std::to_string(options_.master_port);
  try {
    group_->store = c10::make_intrusive<c10d::TCPStore>(options_.master_host, store_options);
  } catch (const std::exception& error) {
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": rendezvous at " + where +
                             " failed (port in use, master unreachable, or not all " +
                             std::to_string(options_.world_size) + " ranks joined within " +
                             std::to_string(options_.timeout.count() / 1000) +
                             " s): " + error.what());
  }
  // Rank 0 publishes the world size it was started with; the others compare theirs, so a
  // mismatch is one clear error instead of a rendezvous that waits for ranks that never come.
  const std::string size_key = "moevit/world_size";
  const std::string size_text = std::to_string(options_.world_size);
  if (options_.rank == 0) {
    group_->store->set(size_key, std::vector<uint8_t>(size_text.begin(), size_text.end()));
  } else {
    const std::vector<uint8_t> master_size = group_->store->get(size_key);
    if (std::string(master_size.begin(), master_size.end()) != size_text)
      throw std::runtime_error("rank " + std::to_string(options_.rank) +
                               ": started with world size " + size_text + ", but rank 0 with " +
                               std::string(master_size.begin(), master_size.end()));
  }
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
  gloo_options->devices.push_back(gloo_device(options_.master_host));
  gloo_options->threads = 1;
  group_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(
      group_->store, static_cast<int>(options_.rank), static_cast<int>(options_.world_size),
      gloo_options);
}

World::~World() = default;

void World::run_collective(const char* name, const std::function<void()>& collective) {
  try {
    collective();
  } catch (const std::exception& error) {
    throw std::runtime_error("rank " + std::to_string(options_.rank) + ": " + name +
                             " failed: another rank stopped or did not answer within " +
                             std::to_string(options_.timeout.count() / 1000) + " s (" +
                             error.what() + ")");
  }
}

void World::all_reduce_sum(torch::Tensor& tensor) {
  if (!group_) return;
  run_collective("all-reduce", [&] {
    std::vector<at::Tensor> tensors{tensor};
    group_->gloo->allreduce(tensors)->wait();
  });
}

void World::broadcast(std::vector<torch::Tensor>& tensors, int64_t root) {
  if (!group_) return;
  c10d::BroadcastOptions options;
  options.rootRank = root;
  run_collective("broadcast", [&] {
    torch::NoGradGuard no_grad;  // parameters are written in place
    for (torch::Tensor& tensor : tensors) {
      std::vector<at::Tensor> one{tensor};
      group_->gloo->broadcast(one, options)->wait();
    }
  });
}

void World::average_gradients(const std::vector<torch::Tensor>& parameters) {
  if (!group_) return;
  std::vector<torch::Tensor> gradients;
  gradients.reserve(parameters.size());
  for (const torch::Tensor& parameter : parameters)
    gradients.push_back(parameter.grad().defined()
                            ? parameter.grad().reshape(-1)
                            : torch::zeros({parameter.numel()}, parameter.options()));
  torch::Tensor flat = torch::cat(gradients);
  all_reduce_sum(flat);
  flat.div_(static_cast<double>(options_.world_size));
  int64_t offset = 0;
  for (const torch::Tensor& parameter : parameters) {
    const int64_t count = parameter.numel();
    torch::Tensor averaged = flat.slice(0, offset, offset + count).view_as(parameter);
    if (parameter.grad().defined())
      parameter.mutable_grad().copy_(averaged);
    else
      const_cast<torch::Tensor&>(parameter).mutable_grad() = averaged.clone();
    offset += count;
  }
}

void World::barrier() {
  if (!group_) return;
  run_collective("barrier", [&] { group_->gloo->barrier()->wait(); });
}

}  // namespace moevit
