#include "app/run/config_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

Config tiny_config(const std::vector<std::string>& overrides) {
  return parse_config(testing::tiny_config_yaml("data", "runs/a"), "tiny.yaml", overrides);
}

TEST(ConfigDiff, ListsTheKeysThatDifferInTableOrder) {
  const Config saved = tiny_config({});
  EXPECT_TRUE(config_changes(saved, saved).empty());
  const std::vector<ConfigChange> changes =
      config_changes(saved, tiny_config({"run.threads=4", "optim.lr=0.01", "moe.k=2"}));
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, "moe.k");
  EXPECT_EQ(changes[0].saved, "1");
  EXPECT_EQ(changes[0].now, "2");
  EXPECT_EQ(changes[1].key, "optim.lr");
  EXPECT_EQ(changes[1].saved, "0.003");
  EXPECT_EQ(changes[1].now, "0.01");
  EXPECT_EQ(changes[2].key, "run.threads");

  // With moe.blocks set, moe.every is unused in both: changing it changes nothing.
  const Config by_blocks = tiny_config({"moe.blocks=[1]"});
  Config every_other = by_blocks;
  every_other.model.placement.every = 1;
  EXPECT_TRUE(config_changes(by_blocks, every_other).empty());
  const std::vector<ConfigChange> placement = config_changes(saved, by_blocks);
  ASSERT_EQ(placement.size(), 1u);  // every is 2 in both, used by one
  EXPECT_EQ(placement[0].key, "moe.blocks");
  EXPECT_EQ(placement[0].saved, "[]");
  EXPECT_EQ(placement[0].now, "[1]");
}

TEST(ConfigDiff, AResumeMayChangeHowTheRunRunsButNotWhatItComputes) {
  const Config saved = tiny_config({});
  const Config how_it_runs =
      tiny_config({"run.threads=4", "data.workers=3", "run.output_dir=runs/b", "optim.epochs=9",
                   "optim.steps=100", "run.log_every=5", "run.checkpoint_every_steps=10",
                   "run.collective_timeout_s=60"});
  EXPECT_EQ(config_changes(saved, how_it_runs).size(), 8u);
  EXPECT_NO_THROW(check_resume_config(saved, how_it_runs, "runs/a/last.pt"));
  EXPECT_TRUE(may_change_on_resume("optim.epochs"));
  EXPECT_FALSE(may_change_on_resume("optim.lr"));

  const Config what_it_computes = tiny_config({"optim.lr=0.01", "optim.epochs=9", "moe.k=2"});
  EXPECT_EQ(testing::error_message(
                [&] { check_resume_config(saved, what_it_computes, "runs/a/last.pt"); }),
            "runs/a/last.pt: resuming with another config: moe.k was 1, now 2; optim.lr was "
            "0.003, now 0.01 (--allow-config-change resumes anyway)");
}

}  // namespace
}  // namespace moevit
