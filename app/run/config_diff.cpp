#include "app/run/config_diff.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

#include "app/run/config_fields.h"

namespace moevit {

namespace {

// They change neither the weights nor the random draws: threads and workers change speed (and
// may change fp32 summation order, as a different machine would), the others where output and
// logs go or how often. Epochs and steps lengthen (or shorten) the run, the reason to resume;
// optim.skip_nonfinite acts only on a step that went non-finite, the reason to resume a run
// that stopped at one.
constexpr const char* kMayChangeOnResume[] = {
    "run.threads",
    "data.workers",
    "run.output_dir",
    "run.log_every",
    "run.checkpoint_every_steps",
    "run.collective_timeout_s",
    "optim.epochs",
    "optim.steps",
    "optim.skip_nonfinite",
};

bool unused(const ConfigField& row, const Config& config) {
  return row.unused_because && !row.unused_because(config).empty();
}

}  // namespace

std::vector<ConfigChange> config_changes(const Config& saved, const Config& now) {
  std::vector<ConfigChange> changes;
  for (const ConfigField& row : config_fields()) {
    if (unused(row, saved) && unused(row, now)) continue;
    ConfigChange change{row.key, row.get(saved), row.get(now)};
    if (change.saved != change.now) changes.push_back(std::move(change));
  }
  return changes;
}

bool may_change_on_resume(const std::string& key) {
  return std::find(std::begin(kMayChangeOnResume), std::end(kMayChangeOnResume), key) !=
         std::end(kMayChangeOnResume);
}

void check_resume_config(const Config& saved, const Config& now,
                         const std::string& checkpoint_path) {
  std::string refused;
  for (const ConfigChange& change : config_changes(saved, now))
    if (!may_change_on_resume(change.key))
      refused += (refused.empty() ? "" : "; ") + change.key + " was " + change.saved + ", now " +
                 change.now;
  if (!refused.empty())
    throw std::invalid_argument(checkpoint_path + ": resuming with another config: " + refused +
                                " (--allow-config-change resumes anyway)");
}

}  // namespace moevit
