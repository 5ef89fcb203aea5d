// Seeded random generators for the data pipeline. Every random choice (split, shuffle, crop,
// flip) draws from a generator seeded by (seed, purpose, a, b) alone, never from a shared one,
// so results do not depend on which thread runs first or how many threads there are.
#pragma once

#include <cstdint>
#include <random>

namespace moevit {

// What a generator is for, so that e.g. the shuffle of epoch 3 and the crop of sample 3 never
// share a seed.
enum class RandomPurpose : uint32_t {
  kSplit = 1,    // a: class label
  kShuffle = 2,  // a: epoch
  kAugment = 3,  // a: epoch, b: sample index
  kMixup = 4,    // a: optimizer step, b: micro-batch (rank · micro-batches per step + micro)
};

// A std::mt19937 seeded through std::seed_seq with all 64 bits of each input.
std::mt19937 seeded_generator(uint64_t seed, RandomPurpose purpose, uint64_t a, uint64_t b = 0);

}  // namespace moevit
