#pragma once

#include "moe/aux_losses.h"
#include "moe/dispatch_plan.h"

namespace moevit {

// What every router returns (as vmoe's routers return (dispatcher, metrics)): the plan the
// experts run on, and the auxiliary losses of this routing.
struct RouterOutput {
  DispatchPlan plan;
  AuxLosses aux;
};

}  // namespace moevit
