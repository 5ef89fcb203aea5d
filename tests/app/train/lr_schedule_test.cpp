#include "app/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace moevit {
namespace {

TEST(LrSchedule, LinearWarmupThenCosineToMinimum) {
  const LrSchedule schedule{/*peak_lr=*/1e-3, /*min_lr=*/1e-5, /*warmup_steps=*/10,
                            /*total_steps=*/110};
  EXPECT_DOUBLE_EQ(schedule.at(0), 1e-4);  // (0 + 1) / 10 of the peak
  EXPECT_DOUBLE_EQ(schedule.at(4), 5e-4);
  EXPECT_DOUBLE_EQ(schedule.at(9), 1e-3);                           // warmup ends at the peak
  EXPECT_DOUBLE_EQ(schedule.at(10), 1e-3);                          // decay starts at the peak
  EXPECT_NEAR(schedule.at(60), 1e-5 + 0.5 * (1e-3 - 1e-5), 1e-15);  // halfway: the midpoint
  EXPECT_NEAR(schedule.at(35), 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_DOUBLE_EQ(schedule.at(110), 1e-5);
  EXPECT_DOUBLE_EQ(schedule.at(500), 1e-5);  // past the end it stays at the minimum
}

TEST(LrSchedule, NoWarmupStartsAtPeak) {
  const LrSchedule schedule{2e-3, 0.0, 0, 100};
  EXPECT_DOUBLE_EQ(schedule.at(0), 2e-3);
  EXPECT_NEAR(schedule.at(50), 1e-3, 1e-15);
}

}  // namespace
}  // namespace moevit
