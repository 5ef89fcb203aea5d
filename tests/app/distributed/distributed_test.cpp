// Data-parallel training over c10d Gloo: the collectives in one process (two threads as two
// ranks), then whole jobs of two processes through the moevit executable on loopback.
#include "app/distributed/distributed.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "app/distributed/launcher.h"
#include "app/run/checkpoint.h"
#include "app/run/config.h"
#include "app/train/global_balance.h"
#include "tests/app/distributed/two_ranks.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;
using testing::with_two_ranks;

const std::string kMoevit = MOEVIT_BINARY;

TEST(World, AllReduceBroadcastAndGradientAveraging) {
  with_two_ranks([](World& world) {
    const double rank = static_cast<double>(world.rank());
    torch::Tensor sum = torch::tensor({1.0 + rank, 10.0 * rank});
    world.all_reduce_sum(sum);
    EXPECT_TRUE(torch::equal(sum, torch::tensor({3.0, 10.0})));

    std::vector<torch::Tensor> weights{torch::full({2, 2}, rank), torch::full({3}, 5 + rank)};
    world.broadcast(weights, /*root=*/1);
    EXPECT_TRUE(torch::equal(weights[0], torch::ones({2, 2})));
    EXPECT_TRUE(torch::equal(weights[1], torch::full({3}, 6.0)));

    // Rank 0 has gradients 2 and 4; rank 1 has 4 for the first and none for the second.
    torch::Tensor first = torch::zeros({2}, torch::requires_grad());
    torch::Tensor second = torch::zeros({1}, torch::requires_grad());
    (first * (rank == 0 ? 2.0 : 4.0)).sum().backward();
    if (rank == 0) (second * 4.0).sum().backward();
    world.average_gradients({first, second});
    EXPECT_TRUE(torch::allclose(first.grad(), torch::full({2}, 3.0)));
    EXPECT_TRUE(torch::allclose(second.grad(), torch::full({1}, 2.0)));
  });
}

// A top-k layer with the Switch loss alone and no noise, the same weights on every rank.
MoeLayer balance_layer(BalanceScope scope) {
  torch::manual_seed(3);
  MoeOptions options;
  options.num_experts = 4;
  options.noise_std = 0;
  options.capacity_factor = 4;
  options.loss_weights = AuxLossWeights{0, 0, 1.0, 0};
  options.balance_scope = scope;
  MoeLayer layer(options, /*dim=*/6, /*hidden_dim=*/8, /*tokens_per_image=*/5);
  torch::NoGradGuard no_grad;
  layer->router_weight.copy_(torch::eye(6, 4));  // expert e reads feature e
  return layer;
}

// A skewed split: rank 0's images lean to expert 0, rank 1's to expert 1 (seeded noise on top).
torch::Tensor skewed_tokens(int64_t rank) {
  torch::manual_seed(10 + rank);
  torch::Tensor tokens = 0.3 * torch::randn({3, 5, 6});
  tokens.select(2, rank) += 4;
  return tokens;
}

TEST(GlobalBalance, TwoRanksSeeTheCountsOfTheUnionBatch) {
  // One process with the union batch: its global-scope counts and loss are the reference.
  MoeLayer union_layer = balance_layer(BalanceScope::kGlobal);
  const torch::Tensor union_tokens = torch::cat({skewed_tokens(0), skewed_tokens(1)});
  GlobalBalance one_process({union_layer}, nullptr);
  one_process.start_step();
  const double union_loss =
      union_layer->forward(union_tokens).routing.aux.switch_balance.item<double>();
  const torch::Tensor union_counts = one_process.step_counts()[0].clone();
  ASSERT_GT(union_counts[0].item<double>(), 0);
  ASSERT_GT(union_counts[1].item<double>(), 0);

  std::vector<double> global_losses(2), micro_losses(2);
  std::vector<torch::Tensor> rank_counts(2);
  with_two_ranks([&](World& world) {
    const int64_t rank = world.rank();
    MoeLayer layer = balance_layer(BalanceScope::kGlobal);
    GlobalBalance balance({layer}, &world);
    balance.start_step();
    const torch::Tensor tokens = skewed_tokens(rank);
    global_losses[rank] = layer->forward(tokens).routing.aux.switch_balance.item<double>();
    rank_counts[rank] = balance.step_counts()[0].clone();
    micro_losses[rank] = balance_layer(BalanceScope::kMicro)
                             ->forward(tokens)
                             .routing.aux.switch_balance.item<double>();
  });
  // Every rank holds the union batch's counts; the losses, averaged over ranks as the
  // gradients are, equal the one-process loss of the union batch (P is linear in the tokens).
  for (int64_t rank = 0; rank < 2; ++rank)
    EXPECT_TRUE(torch::equal(rank_counts[rank], union_counts)) << rank;
  EXPECT_NEAR((global_losses[0] + global_losses[1]) / 2, union_loss, 1e-5);
  // Per-batch (micro) balance sees each skewed half alone: a far larger loss.
  EXPECT_GT((micro_losses[0] + micro_losses[1]) / 2, union_loss + 0.5);
}

TEST(GlobalBalance, MicroBatchesOfAStepAccumulateAndANewStepStartsAgain) {
  MoeLayer layer = balance_layer(BalanceScope::kGlobal);
  GlobalBalance balance({layer}, nullptr);
  const torch::Tensor first = skewed_tokens(0), second = skewed_tokens(1);
  balance.start_step();
  layer->forward(first);
  const torch::Tensor first_counts = balance.step_counts()[0].clone();
  layer->forward(second);
  const torch::Tensor both = balance.step_counts()[0].clone();
  EXPECT_EQ(both.sum().item<double>(), 30);  // 2 micro-batches x 3 images x 5 tokens
  balance.start_step();
  layer->forward(second);
  EXPECT_TRUE(torch::equal(balance.step_counts()[0], both - first_counts));
}

TEST(World, OneProcessNeedsNoRendezvous) {
  World world(WorldOptions{});
  torch::Tensor values = torch::tensor({1.0, 2.0});
  world.all_reduce_sum(values);
  world.barrier();
  EXPECT_TRUE(torch::equal(values, torch::tensor({1.0, 2.0})));
  EXPECT_TRUE(world.is_main());
}

TEST(WorldOptions, ReadsTorchrunVariablesAndRefusesBadValues) {
  const std::map<std::string, std::string> environment{{"RANK", "1"},
                                                       {"WORLD_SIZE", "4"},
                                                       {"LOCAL_RANK", "1"},
                                                       {"MASTER_ADDR", "10.1.2.3"},
                                                       {"MASTER_PORT", "29511"}};
  const auto lookup = [&](const std::string& name) -> std::optional<std::string> {
    const auto found = environment.find(name);
    return found == environment.end() ? std::nullopt : std::optional<std::string>(found->second);
  };
  const std::optional<WorldOptions> options = world_from_environment(lookup);
  ASSERT_TRUE(options);
  EXPECT_EQ(options->rank, 1);
  EXPECT_EQ(options->world_size, 4);
  EXPECT_EQ(options->master_host, "10.1.2.3");
  EXPECT_EQ(options->master_port, 29511);
  EXPECT_FALSE(world_from_environment([](const std::string&) { return std::nullopt; }));

  WorldOptions bad;
  bad.world_size = 2;
  bad.rank = 2;
  EXPECT_EQ(testing::error_message([&] { bad.check(); }),
            "--rank: expected 0 <= rank < world size (2), got 2");
  WorldOptions address;
  parse_master_address("node7:1234", address);
  EXPECT_EQ(address.master_host, "node7");
  EXPECT_EQ(address.master_port, 1234);
  EXPECT_THROW(parse_master_address("node7", address), std::invalid_argument);
  EXPECT_THROW(parse_master_address("node7:http", address), std::invalid_argument);
}

TEST(World, WorldSizeMismatchIsAnErrorNotAHang) {
  WorldOptions options;
  options.master_port = free_loopback_port();
  options.timeout = std::chrono::seconds(5);
  std::string rank1_error;
  std::thread rank1([&] {
    WorldOptions mine = options;
    mine.rank = 1;
    mine.world_size = 3;
    try {
      World world(mine);
    } catch (const std::exception& error) {
      rank1_error = error.what();
    }
  });
  WorldOptions rank0 = options;
  rank0.world_size = 2;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(World world(rank0), std::exception);
  rank1.join();
  EXPECT_NE(rank1_error.find("started with world size 3, but rank 0 with 2"), std::string::npos)
      << rank1_error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// The weights of a finished run's last.pt.
std::vector<torch::Tensor> trained_weights(const std::string& checkpoint) {
  const Config config = parse_config(read_checkpoint_state(checkpoint).config_yaml, checkpoint, {});
  VisionTransformer model(config.model);
  load_checkpoint_weights(checkpoint, *model, nullptr);
  return model->parameters();
}

// Largest element-wise difference between two runs' weights.
float max_weight_difference(const std::string& a, const std::string& b) {
  const std::vector<torch::Tensor> left = trained_weights(a), right = trained_weights(b);
  float largest = 0;
  for (size_t i = 0; i < left.size(); ++i)
    largest = std::max(largest, (left[i] - right[i]).abs().max().item<float>());
  return largest;
}

// fp32 summation order differs between one and two processes; Adam turns that into weight
// differences of a small fraction of one step (lr 0.003) on near-zero gradients.
constexpr float kSameRun = 5e-4f;

class TwoProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_texture_folders(dir_ / "data");
    // Soft routing has no noise, so one process and two draw nothing differently.
    testing::write_text(dir_ / "tiny.yaml",
                        testing::tiny_config_yaml(dir_ / "data", dir_ / "one", "soft", 2));
  }
  testing::CommandResult train(const std::string& out, const std::string& extra) {
    // 36 images in global batches of 12: 3 steps per epoch, 6 images per rank and step.
    return run_command(kMoevit + " train --config " + (dir_ / "tiny.yaml") + " --out " +
                       (dir_ / out) + " --set optim.batch_size=12 " + extra);
  }
  TempDir dir_;
};

TEST_F(TwoProcesses, EqualOneProcessOnTheUnionBatch) {
  const auto one = train("one", "");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = train("two", "--nproc 2");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  EXPECT_NE(two.output.find("2 processes"), std::string::npos) << two.output;
  // Rank 0 alone reports: one summary line per epoch, not two.
  EXPECT_EQ(two.output.find("epoch 2/2  train loss"), two.output.rfind("epoch 2/2  train loss"));
  EXPECT_LT(max_weight_difference(dir_ / "one/last.pt", dir_ / "two/last.pt"), kSameRun);
  // The tolerance tells runs apart: half the batch on one process is another run.
  ASSERT_EQ(train("half", "--set optim.batch_size=6").exit_code, 0);
  EXPECT_GT(max_weight_difference(dir_ / "one/last.pt", dir_ / "half/last.pt"), 20 * kSameRun);
  for (const char* file : {"metrics.jsonl", "best.pt", "curves.png"})
    EXPECT_TRUE(std::filesystem::exists(dir_ / ("two/" + std::string(file)))) << file;
}

TEST_F(TwoProcesses, AccumulatedMicroBatchesEqualTheWholeBatch) {
  // Global batch 12 as 2 micro-batches of 6, and as 2 ranks x 3 micro-batches of 2.
  ASSERT_EQ(train("one", "").exit_code, 0);
  const auto accumulated = train("accum", "--set optim.accum_steps=2");
  ASSERT_EQ(accumulated.exit_code, 0) << accumulated.output;
  EXPECT_LT(max_weight_difference(dir_ / "one/last.pt", dir_ / "accum/last.pt"), kSameRun);
  const auto both = train("both", "--nproc 2 --set optim.accum_steps=3");
  ASSERT_EQ(both.exit_code, 0) << both.output;
  EXPECT_LT(max_weight_difference(dir_ / "one/last.pt", dir_ / "both/last.pt"), kSameRun);
  // A batch that does not split evenly is refused before any work.
  const auto uneven = train("uneven", "--nproc 2 --set optim.accum_steps=4");
  EXPECT_NE(uneven.exit_code, 0);
  EXPECT_NE(uneven.output.find("optim.batch_size: expected a multiple of 2 processes x "
                               "optim.accum_steps 4 = 8"),
            std::string::npos)
      << uneven.output;
}

TEST_F(TwoProcesses, CheckpointsResumeWithAnyNumberOfProcesses) {
  // 2 epochs straight (one process) == 1 epoch with two + 1 more with one == 1 with one + 1
  // more with two.
  ASSERT_EQ(train("straight", "").exit_code, 0);
  const auto first_two = train("a", "--nproc 2 --set optim.epochs=1");
  ASSERT_EQ(first_two.exit_code, 0) << first_two.output;
  const auto then_one = train("a", "--resume " + (dir_ / "a"));
  ASSERT_EQ(then_one.exit_code, 0) << then_one.output;
  ASSERT_EQ(train("b", "--set optim.epochs=1").exit_code, 0);
  const auto then_two = train("b", "--nproc 2 --resume " + (dir_ / "b"));
  ASSERT_EQ(then_two.exit_code, 0) << then_two.output;
  EXPECT_LT(max_weight_difference(dir_ / "straight/last.pt", dir_ / "a/last.pt"), kSameRun);
  EXPECT_LT(max_weight_difference(dir_ / "straight/last.pt", dir_ / "b/last.pt"), kSameRun);
}

TEST_F(TwoProcesses, AKilledRankStopsTheOtherWithinTheTimeout) {
  // Two ranks started by hand, as torchrun would; a long run; rank 1 is killed once both run.
  const int64_t port = free_loopback_port();
  const auto start_rank = [&](int rank) {
    // Everything the child needs is built before fork: after it, only async-signal-safe calls.
    std::vector<std::string> environment{"RANK=" + std::to_string(rank), "WORLD_SIZE=2",
                                         "MASTER_ADDR=127.0.0.1",
                                         "MASTER_PORT=" + std::to_string(port)};
    for (char** variable = environ; *variable; ++variable) environment.push_back(*variable);
    std::vector<std::string> arguments{"moevit",   "train",
                                       "--config", dir_ / "tiny.yaml",
                                       "--out",    dir_ / "killed",
                                       "--set",    "optim.epochs=1000",
                                       "--set",    "run.collective_timeout_s=20"};
    std::vector<char*> envp, argv;
    for (std::string& entry : environment) envp.push_back(entry.data());
    for (std::string& entry : arguments) argv.push_back(entry.data());
    envp.push_back(nullptr);
    argv.push_back(nullptr);
    const std::string log = dir_ / ("rank" + std::to_string(rank) + ".log");
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const pid_t pid = fork();
    if (pid == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      execve(kMoevit.c_str(), argv.data(), envp.data());
      _exit(127);
    }
    close(log_fd);
    return pid;
  };
  const pid_t rank0 = start_rank(0), rank1 = start_rank(1);
  // Wait until rank 0 has finished an epoch (so both are in the training loop).
  for (int i = 0; i < 600 && !std::filesystem::exists(dir_ / "killed/last.pt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(std::filesystem::exists(dir_ / "killed/last.pt"));
  kill(rank1, SIGKILL);
  waitpid(rank1, nullptr, 0);
  const auto killed_at = std::chrono::steady_clock::now();
  int status = 0;
  pid_t done = 0;
  while ((done = waitpid(rank0, &status, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(60))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (done == 0) {  // a hang: clean up, then fail
    kill(rank0, SIGKILL);
    waitpid(rank0, nullptr, 0);
    FAIL() << "rank 0 still running 60 s after rank 1 was killed";
  }
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  std::ifstream log(dir_ / "rank0.log");
  const std::string output((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(output.find("rank 0: "), std::string::npos) << output;
  // The last checkpoint is intact and loads.
  EXPECT_NO_THROW(trained_weights(dir_ / "killed/last.pt"));
}

}  // namespace
}  // namespace moevit
