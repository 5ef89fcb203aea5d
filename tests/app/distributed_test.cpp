// Data-parallel training over c10d Gloo: the collectives in one process (two threads as two
// ranks), then whole jobs of two processes through the moevit executable on loopback.
#include "app/distributed.h"

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

#include "app/checkpoint.h"
#include "app/config.h"
#include "app/launcher.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;

// Runs `body(world)` for ranks 0 and 1 on threads, each with its own World over loopback.
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
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
}

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
