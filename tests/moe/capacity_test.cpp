#include "moe/capacity.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace moevit {
namespace {

TEST(Capacity, VmoeWorkedExampleRoundsUpToMultipleOfFour) {
  // vmoe: S = 400, K = 2, factor 1.05, E = 8 → ceil(105) = 105 → 108.
  EXPECT_EQ(compute_capacity(400, 2, 1.05, 8, 4), 108);
  EXPECT_EQ(compute_capacity(400, 2, 1.05, 8, 1), 105);
}

TEST(Capacity, VmoeTestCaseSmallCapacityBecomesFour) {
  // vmoe moe_test: increase_to_multiple_of_4(ceil(32 · 2 / 32)) = 4.
  EXPECT_EQ(compute_capacity(32, 2, 1.0, 32, 4), 4);
}

TEST(Capacity, ExactDivisionIsNotRoundedUpByFloatingPointError) {
  EXPECT_EQ(compute_capacity(49, 1, 1.0, 7), 7);
  EXPECT_EQ(compute_capacity(49, 1, 1.05, 7), 8);
}

TEST(Capacity, AtLeastOneAndAtMostTheGroup) {
  EXPECT_EQ(compute_capacity(4, 1, 0.01, 8), 1);
  EXPECT_EQ(compute_capacity(10, 2, 100.0, 2), 10);
}

TEST(Capacity, RefusesImpossibleInputsNamingThem) {
  EXPECT_THROW(compute_capacity(10, 1, 0.0, 2), std::invalid_argument);
  EXPECT_THROW(compute_capacity(10, 1, -1.0, 2), std::invalid_argument);
  EXPECT_THROW(compute_capacity(0, 1, 1.0, 2), std::invalid_argument);
  try {
    compute_capacity(10, 1, -1.0, 2);
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("capacity_factor"), std::string::npos);
  }
}

}  // namespace
}  // namespace moevit
