// `moevit train` as a user meets it when things go wrong: a signal mid-run, a folder another
// training holds, a resume with another config. Runs the moevit executable.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "app/eval/metrics_log.h"
#include "app/run/checkpoint.h"
#include "app/run/model_loading.h"
#include "app/run/run_lock.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;

// A moevit process the test started, its stdout and stderr on one pipe.
struct Child {
  pid_t pid = -1;
  int output = -1;
};

Child start_moevit(const std::vector<std::string>& arguments) {
  // Everything the child needs is built before fork: after it, only async-signal-safe calls.
  std::vector<std::string> words{"moevit"};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  int pipe_ends[2];
  if (pipe(pipe_ends) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_ends[1], STDOUT_FILENO);
    dup2(pipe_ends[1], STDERR_FILENO);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    signal(SIGINT, SIG_DFL);  // as from a terminal, even if the tests run with it ignored
    execv(kMoevit.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_ends[1]);
  return {pid, pipe_ends[0]};
}

// Reads the child's output into `output` until `text` appears in it (true) or the output ends.
bool read_until(const Child& child, const std::string& text, std::string& output) {
  char buffer[4096];
  while (output.find(text) == std::string::npos) {
    const ssize_t length = read(child.output, buffer, sizeof buffer);
    if (length <= 0) return false;
    output.append(buffer, static_cast<size_t>(length));
  }
  return true;
}

// Reads the rest of the output and waits for the child; its exit status (-1 if a signal ended
// it).
int wait_for(const Child& child, std::string& output) {
  read_until(child, std::string(1, '\0'), output);  // to the end: moevit prints no NUL
  close(child.output);
  int status = 0;
  waitpid(child.pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The step in "stopped after step N of", or -1.
int64_t stopped_after_step(const std::string& output) {
  const std::string marker = "stopped after step ";
  const size_t at = output.find(marker);
  return at == std::string::npos ? -1 : std::stoll(output.substr(at + marker.size()));
}

std::vector<std::string> train_arguments(const TempDir& dir, const std::string& out) {
  // 36 images in batches of 4: 9 steps per epoch, 54 in all; hflip draws from the seed.
  return {"train", "--config",           dir / "tiny.yaml", "--out",         dir / out,
          "--set", "optim.batch_size=4", "--set",           "data.hflip=0.5"};
}

std::string command_line(const std::vector<std::string>& arguments) {
  std::string line = kMoevit;
  for (const std::string& argument : arguments) line += " " + argument;
  return line;
}

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::make_texture_folders(dir_ / "data");
    testing::write_text(dir_ / "tiny.yaml",
                        testing::tiny_config_yaml(dir_ / "data", dir_ / "run", "topk", 6));
  }
  TempDir dir_;
};

TEST_F(TrainCommand, SigintMidRunStopsWithLastPtAndTheResumeEndsAsTheStraightRun) {
  const auto straight = run_command(command_line(train_arguments(dir_, "straight")));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  const Child child = start_moevit(train_arguments(dir_, "run"));
  ASSERT_GT(child.pid, 0);
  std::string output;
  ASSERT_TRUE(read_until(child, "step 3/54", output)) << output;
  kill(child.pid, SIGINT);
  ASSERT_EQ(wait_for(child, output), 130) << output;
  const std::string last = dir_ / "run/last.pt";
  EXPECT_NE(output.find("moevit: stop requested: finishing this step, then writing " + last),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("moevit: SIGINT: stopped after step "), std::string::npos) << output;
  EXPECT_NE(output.find("; wrote " + last + "; resume with: moevit train --resume " + last + "\n"),
            std::string::npos)
      << output;
  const int64_t stopped_at = stopped_after_step(output);
  EXPECT_EQ(read_checkpoint_state(last).step, stopped_at);
  EXPECT_GE(stopped_at, 3);
  EXPECT_LT(stopped_at, 54);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "run/train.lock"));  // released on the way out

  // What the message says to run, run as it says: the checkpoint's own config.
  const auto resumed = run_command(kMoevit + " train --resume " + last);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const LoadedModel expected = load_model(dir_ / "straight/last.pt", {}, WeightSource::kTrained);
  const LoadedModel actual = load_model(last, {}, WeightSource::kTrained);
  const auto expected_weights = expected.model->named_parameters();
  for (const auto& item : actual.model->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), expected_weights[item.key()])) << item.key();
  // The last epoch's validation, to the last digit (all but its speed).
  auto straight_records = read_json_lines(dir_ / "straight/metrics.jsonl");
  auto resumed_records = read_json_lines(dir_ / "run/metrics.jsonl");
  ASSERT_EQ(straight_records.size(), 6u);
  ASSERT_EQ(resumed_records.size(), 6u);
  for (auto* records : {&straight_records, &resumed_records})
    records->back()["val"].erase("images_per_s");
  EXPECT_EQ(resumed_records.back()["val"], straight_records.back()["val"]);
}

TEST_F(TrainCommand, TwoProcessesStopAtOneStepWhenTheLauncherIsSignalled) {
  std::vector<std::string> arguments = train_arguments(dir_, "run");
  arguments.insert(arguments.end(), {"--nproc", "2"});
  const Child launcher = start_moevit(arguments);
  ASSERT_GT(launcher.pid, 0);
  std::string output;
  ASSERT_TRUE(read_until(launcher, "step 3/54", output)) << output;
  kill(launcher.pid, SIGINT);  // the launcher alone: it passes the signal on to the ranks
  ASSERT_EQ(wait_for(launcher, output), 130) << output;
  const int64_t stopped_at = stopped_after_step(output);
  EXPECT_EQ(read_checkpoint_state(dir_ / "run/last.pt").step, stopped_at);
  EXPECT_LT(stopped_at, 54);
  // Rank 0 alone reports, once; no rank failed or was stopped by the launcher.
  EXPECT_EQ(output.find("stopped after step"), output.rfind("stopped after step")) << output;
  EXPECT_EQ(output.find("stopping the other ranks"), std::string::npos) << output;
  const auto resumed = run_command(kMoevit + " train --resume " + (dir_ / "run") + " --nproc 2");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

TEST_F(TrainCommand, ASecondTrainingIntoAHeldFolderIsRefused) {
  const std::string command = command_line(train_arguments(dir_, "run"));
  {
    const RunLock first(dir_ / "run", nullptr);  // this test process plays the first training
    const auto refused = run_command(command);
    EXPECT_EQ(refused.exit_code, 1);
    const std::string refusal = "moevit train: error: " + (dir_ / "run/train.lock") +
                                ": another training (pid " + std::to_string(getpid());
    EXPECT_EQ(refused.output.rfind(refusal, 0), 0u) << refused.output;
    EXPECT_EQ(std::count(refused.output.begin(), refused.output.end(), '\n'), 1) << refused.output;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "run/config.yaml"));  // nothing written

    const auto refused_ranks = run_command(command + " --nproc 2");
    EXPECT_NE(refused_ranks.exit_code, 0);
    EXPECT_NE(refused_ranks.output.find(refusal), std::string::npos) << refused_ranks.output;
    EXPECT_NE(refused_ranks.output.find("rank 1: rank 0 could not lock"), std::string::npos)
        << refused_ranks.output;
  }
  // A lock file left by a process that has gone: taken over, with a note.
  const pid_t gone = fork();
  if (gone == 0) _exit(0);
  ASSERT_EQ(waitpid(gone, nullptr, 0), gone);
  testing::write_text(dir_ / "run/train.lock", std::to_string(gone) + " somewhere\n");
  const auto taken_over = run_command(command + " --set optim.epochs=1");
  ASSERT_EQ(taken_over.exit_code, 0) << taken_over.output;
  EXPECT_NE(taken_over.output.find("took over the lock of pid " + std::to_string(gone) +
                                   " on somewhere, which no longer holds it"),
            std::string::npos)
      << taken_over.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "run/train.lock"));
}

TEST_F(TrainCommand, ResumingWithAChangedKeyIsRefusedNamingItUnlessAllowed) {
  const std::string command = command_line(train_arguments(dir_, "run"));
  ASSERT_EQ(run_command(command + " --set optim.epochs=1").exit_code, 0);
  const std::string resume = command + " --resume " + (dir_ / "run") +
                             " --set optim.lr=0.01 --set optim.epochs=2 --set run.threads=2";
  const auto refused = run_command(resume);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find((dir_ / "run/last.pt") +
                                ": resuming with another config: optim.lr was 0.003, now 0.01 "
                                "(--allow-config-change resumes anyway)"),
            std::string::npos)
      << refused.output;
  const auto allowed = run_command(resume + " --allow-config-change");
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_EQ(read_json_lines(dir_ / "run/metrics.jsonl").size(), 2u);
}

}  // namespace
}  // namespace moevit
