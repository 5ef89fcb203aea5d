// Precompiled header: LibTorch dominates every translation unit's compile time.
// Only third-party headers belong here; our own headers stay explicit in each file.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>
