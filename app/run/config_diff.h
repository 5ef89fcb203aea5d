// What differs between two resolved configs, key by key (the one key table,
// app/run/config_fields.h), and the check `train --resume` makes with it: a checkpoint
// continues only the run it came from, unless the change is deliberate (--allow-config-change).
#pragma once

#include <string>
#include <vector>

#include "app/run/config.h"

namespace moevit {

struct ConfigChange {
  std::string key;    // e.g. "optim.lr"
  std::string saved;  // the value as YAML text, e.g. "0.003"
  std::string now;
};

// Every key whose value differs, in the table's order. A placement rule unused in both
// configs (moe.every when moe.blocks is set) changes nothing and is not listed.
std::vector<ConfigChange> config_changes(const Config& saved, const Config& now);

// Keys that may differ between a run and its resume: how it runs (threads, loader workers,
// output folder, logging, checkpoint interval, collective timeout), how long (optim.epochs,
// optim.steps), and optim.skip_nonfinite. The number of processes is not a key: checkpoints
// resume with any.
bool may_change_on_resume(const std::string& key);

// Throws std::invalid_argument, one line naming `checkpoint_path` and every other differing
// key with both values, when `now` differs from the config the checkpoint was trained with.
void check_resume_config(const Config& saved, const Config& now,
                         const std::string& checkpoint_path);

}  // namespace moevit
