// eval --sweep's figure: top-1 against the eval capacity factor, and against the fraction of
// tokens that reached an expert, as two panels of one PNG (the curves' panel drawing).
#pragma once

#include <string>
#include <vector>

#include "app/eval/capacity_sweep.h"

namespace moevit {

// Two panels: top-1 against the capacity factor, and against the fraction of tokens reached;
// the title band's right side gives the cost of cutting the experts when factor 0 was swept.
void write_sweep_png(const std::vector<SweepPoint>& points, const std::string& title,
                     const std::string& png_path);

}  // namespace moevit
