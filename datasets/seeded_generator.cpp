#include "datasets/seeded_generator.h"

namespace moevit {

std::mt19937 seeded_generator(uint64_t seed, RandomPurpose purpose, uint64_t a, uint64_t b) {
  // seed_seq takes 32-bit words: pass both halves so seeds that differ only above bit 31 differ.
  const auto low = [](uint64_t value) { return static_cast<uint32_t>(value); };
  const auto high = [](uint64_t value) { return static_cast<uint32_t>(value >> 32); };
  std::seed_seq words{low(seed), high(seed), static_cast<uint32_t>(purpose), low(a), high(a),
                      low(b),    high(b)};
  return std::mt19937(words);
}

}  // namespace moevit
