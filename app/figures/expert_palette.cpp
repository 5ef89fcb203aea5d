#include "app/figures/expert_palette.h"

#include <stdexcept>
#include <string>

namespace moevit {

namespace {

// Tableau 10 (matplotlib "tab10": distinct at a glance, and for most colour-blind readers), its
// grey swapped for navy because grey is how a heatmap shows a dropped patch; then six from Sasha
// Trubetskoy's "20 simple, distinct colours". As RGB hex, converted to BGR below.
constexpr uint32_t kPaletteRgb[kExpertPaletteSize] = {
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2, 0x000075,
    0xbcbd22, 0x17becf, 0xffe119, 0x469990, 0x800000, 0xf032e6, 0xaaffc3, 0xbfef45};

}  // namespace

cv::Scalar expert_colour(int64_t expert) {
  if (expert < 0)
    throw std::invalid_argument("expert_colour: expected an expert id >= 0, got " +
                                std::to_string(expert));
  const uint32_t rgb = kPaletteRgb[expert % kExpertPaletteSize];
  return cv::Scalar(rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff);
}

}  // namespace moevit
