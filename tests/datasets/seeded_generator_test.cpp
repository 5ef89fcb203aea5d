#include "datasets/seeded_generator.h"

#include <gtest/gtest.h>

namespace moevit {
namespace {

std::vector<uint32_t> first_draws(std::mt19937 generator) {
  std::vector<uint32_t> draws(4);
  for (uint32_t& draw : draws) draw = generator();
  return draws;
}

TEST(SeededGenerator, SameInputsSameStreamAnyInputChangesIt) {
  const std::vector<uint32_t> base =
      first_draws(seeded_generator(7, RandomPurpose::kAugment, 1, 2));
  EXPECT_EQ(first_draws(seeded_generator(7, RandomPurpose::kAugment, 1, 2)), base);
  EXPECT_NE(first_draws(seeded_generator(8, RandomPurpose::kAugment, 1, 2)), base);
  EXPECT_NE(first_draws(seeded_generator(7, RandomPurpose::kShuffle, 1, 2)), base);
  EXPECT_NE(first_draws(seeded_generator(7, RandomPurpose::kAugment, 2, 1)), base);
  // Seeds that differ only in the high 32 bits differ too.
  EXPECT_NE(first_draws(seeded_generator(7 + (uint64_t{1} << 32), RandomPurpose::kAugment, 1, 2)),
            base);
}

}  // namespace
}  // namespace moevit
