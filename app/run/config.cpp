#include "app/run/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "app/run/config_fields.h"
#include "app/run/spellcheck.h"

namespace moevit {

namespace {

// One key given a value, by the file or by --set; `where` is "file:line" or "file (--set)".
struct Assignment {
  const ConfigField* field;
  YAML::Node value;
  std::string where;
};

[[noreturn]] void refuse(const std::string& where, const std::string& key,
                         const std::string& message) {
  throw std::invalid_argument(where + ": " + key + ": " + message);
}

std::string where_in_file(const std::string& source, const YAML::Mark& mark) {
  return mark.line >= 0 ? source + ":" + std::to_string(mark.line + 1) : source;
}

std::string leaf_of(const std::string& key) {
  return key.substr(key.rfind('.') + 1);
}

// ", did you mean 'moe.num_experts'?" for a near miss of a key or a section (a few edits, or
// the right name in the wrong section), else "".
std::string suggestion(const std::string& key) {
  std::string best;
  size_t best_distance = std::max<size_t>(3, key.size() / 4);  // near misses only
  for (const ConfigField& row : config_fields()) {
    for (size_t end = row.key.find('.'); true; end = row.key.find('.', end + 1)) {
      const std::string name = row.key.substr(0, end);  // a section, then the key itself
      const size_t distance = leaf_of(name) == leaf_of(key) ? 1 : edit_distance(key, name);
      if (distance < best_distance) best = name, best_distance = distance;
      if (end == std::string::npos) break;
    }
  }
  return best.empty() ? "" : ", did you mean '" + best + "'?";
}

bool is_section(const std::string& key) {
  for (const ConfigField& row : config_fields())
    if (row.key.compare(0, key.size() + 1, key + ".") == 0) return true;
  return false;
}

// The (key, value) leaves of a YAML map below `prefix`, in file order; unknown keys refused.
void collect(const YAML::Node& map, const std::string& prefix, const std::string& source,
             std::vector<Assignment>& assignments) {
  for (const auto& entry : map) {
    const YAML::Node name = entry.first, value = entry.second;
    const std::string where = where_in_file(source, name.Mark());
    if (!name.IsScalar()) refuse(where, prefix + "?", "expected a key name");
    const std::string key = prefix + name.Scalar();
    if (const ConfigField* row = find_config_field(key)) {
      assignments.push_back({row, value, where});
    } else if (!is_section(key)) {
      refuse(where, key, "unknown key" + suggestion(key));
    } else if (value.IsMap()) {
      collect(value, key + ".", source, assignments);
    } else if (!value.IsNull()) {  // an empty section (`moe:`) is allowed
      refuse(where, key, "expected a map of " + key + ".* keys, got " + describe_value(value));
    }
  }
}

std::vector<Assignment> read_file_text(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(source + ":" + std::to_string(error.mark.line + 1) + ":" +
                                std::to_string(error.mark.column + 1) +
                                ": YAML syntax error: " + error.msg);
  }
  std::vector<Assignment> assignments;
  if (root.IsNull()) return assignments;  // an empty file: all defaults
  if (!root.IsMap())
    throw std::invalid_argument(source +
                                ": expected a map of sections (model, moe, data, optim, run)");
  collect(root, "", source, assignments);
  for (size_t i = 0; i < assignments.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (assignments[j].field == assignments[i].field)
        refuse(assignments[i].where, assignments[i].field->key,
               "set twice (also at " + assignments[j].where + ")");
  return assignments;
}

// "key.sub=value", the value parsed as YAML so that lists and enums read as in a file.
std::vector<Assignment> read_overrides(const std::vector<std::string>& overrides,
                                       const std::string& source) {
  const std::string where = source + " (--set)";
  std::vector<Assignment> assignments;
  for (const std::string& override_text : overrides) {
    const size_t equals = override_text.find('=');
    if (equals == std::string::npos || equals == 0)
      throw std::invalid_argument(where + ": expected key=value (e.g. optim.lr=3e-4), got '" +
                                  override_text + "'");
    const std::string key = override_text.substr(0, equals);
    const ConfigField* row = find_config_field(key);
    if (!row && is_section(key))
      refuse(where, key, "expected one key of the section (e.g. " + key + ".<name>=value)");
    if (!row) refuse(where, key, "unknown key" + suggestion(key));
    try {
      assignments.push_back({row, YAML::Load(override_text.substr(equals + 1)), where});
    } catch (const YAML::Exception& error) {
      refuse(where, key,
             "expected " + row->expected + ", got '" + override_text.substr(equals + 1) + "' (" +
                 error.msg + ")");
    }
  }
  return assignments;
}

bool is_placement(const Assignment& assignment) {
  const std::string& key = assignment.field->key;
  return key == "moe.every" || key == "moe.last" || key == "moe.blocks";
}

// MoePlacement applies one rule; more than one given is a mistake, not a priority order.
bool require_one_placement(const std::vector<Assignment>& assignments) {
  const Assignment* first = nullptr;
  for (const Assignment& assignment : assignments) {
    if (!is_placement(assignment)) continue;
    if (first && first->field != assignment.field)
      refuse(assignment.where, assignment.field->key,
             "expected one of moe.every, moe.last, moe.blocks, got " + first->field->key + " too");
    first = &assignment;
  }
  return first != nullptr;
}

void apply(const std::vector<Assignment>& assignments, Config& config) {
  for (const Assignment& assignment : assignments) {
    try {
      assignment.field->set(config, assignment.value);
    } catch (const ConfigValueError& error) {
      refuse(assignment.where, assignment.field->key, error.what());
    }
  }
}

// With moe.balance: bias (DeepSeek-V3's auxiliary-loss-free balancing) the balance-loss weights
// default to 0; a weight the file or --set gives explicitly still applies (DeepSeek-V3 keeps a
// tiny sequence-wise loss).
void default_loss_weights_for_bias(const std::vector<std::vector<Assignment>>& sources,
                                   Config& config) {
  if (config.model.moe.balance != BalanceMethod::kBias) return;
  AuxLossWeights& weights = config.model.moe.loss_weights;
  for (const auto& [key, weight] : {std::pair{"moe.loss.importance", &weights.importance},
                                    std::pair{"moe.loss.load", &weights.load},
                                    std::pair{"moe.loss.switch", &weights.switch_balance}}) {
    bool given = false;
    for (const std::vector<Assignment>& assignments : sources)
      for (const Assignment& assignment : assignments)
        given = given || assignment.field->key == key;
    if (!given) *weight = 0;
  }
}

// Throws "<source>: <key>: expected <expected>, got <got>" unless `condition`.
struct Checker {
  std::string source;
  void operator()(bool condition, const char* key, const std::string& expected,
                  const std::string& got) const {
    if (!condition) refuse(source, key, "expected " + expected + ", got " + got);
  }
  void at_least(int64_t value, int64_t minimum, const char* key) const {
    (*this)(value >= minimum, key, "an integer >= " + std::to_string(minimum),
            std::to_string(value));
  }
  // value in [low, high] or [low, high) etc.; `range` as printed, e.g. "[0, 1)".
  void within(double value, bool condition, const char* key, const std::string& range) const {
    (*this)(condition, key, "a number in " + range, format_number(value));
  }
  void positive(double value, const char* key) const {
    (*this)(value > 0, key, "a number > 0", format_number(value));
  }
};

void check_per_channel(const Checker& check, const std::vector<double>& values, const char* key,
                       int64_t channels) {
  const int64_t count = static_cast<int64_t>(values.size());
  check(count == 1 || count == channels, key,
        "1 or model.channels (" + std::to_string(channels) + ") values",
        std::to_string(count) + " values");
}

void check_data(const Checker& check, const DataConfig& data, int64_t channels) {
  check.within(data.val_split, data.val_split >= 0 && data.val_split < 1, "data.val_split",
               "[0, 1)");
  check.at_least(data.workers, 0, "data.workers");
  check_per_channel(check, data.mean, "data.mean", channels);
  check_per_channel(check, data.std, "data.std", channels);
  for (double deviation : data.std) check.positive(deviation, "data.std");
  check.within(data.scale_min, data.scale_min > 0 && data.scale_min <= 1, "data.scale_min",
               "(0, 1]");
  check.within(data.scale_max, data.scale_max >= data.scale_min && data.scale_max <= 1,
               "data.scale_max", "[data.scale_min, 1]");
  check.positive(data.ratio_min, "data.ratio_min");
  check.within(data.ratio_max, data.ratio_max >= data.ratio_min, "data.ratio_max",
               "[data.ratio_min, inf)");
  check.at_least(data.crop_padding, 0, "data.crop_padding");
  check.within(data.hflip, data.hflip >= 0 && data.hflip <= 1, "data.hflip", "[0, 1]");
  check.within(data.random_erasing, data.random_erasing >= 0 && data.random_erasing <= 1,
               "data.random_erasing", "[0, 1]");
  check.at_least(data.randaugment_n, 0, "data.randaugment_n");
  check(data.randaugment_m >= 0 && data.randaugment_m <= 30, "data.randaugment_m",
        "an integer in [0, 30]", std::to_string(data.randaugment_m));
  check.within(data.color_jitter, data.color_jitter >= 0, "data.color_jitter", "[0, inf)");
  check.within(data.mixup, data.mixup >= 0, "data.mixup", "[0, inf) (0 = off)");
  check.within(data.cutmix, data.cutmix >= 0, "data.cutmix", "[0, inf) (0 = off)");
  check.within(data.mixup_prob, data.mixup_prob >= 0 && data.mixup_prob <= 1, "data.mixup_prob",
               "[0, 1]");
  check.within(data.mixup_switch_prob, data.mixup_switch_prob >= 0 && data.mixup_switch_prob <= 1,
               "data.mixup_switch_prob", "[0, 1]");
  check.within(data.crop_fraction, data.crop_fraction > 0 && data.crop_fraction <= 1,
               "data.crop_fraction", "(0, 1]");
  check.at_least(data.max_pixels, 1, "data.max_pixels");
}

void check_optim(const Checker& check, const OptimConfig& optim) {
  check.positive(optim.lr, "optim.lr");
  check.within(optim.min_lr, optim.min_lr >= 0 && optim.min_lr <= optim.lr, "optim.min_lr",
               "[0, optim.lr]");
  check.within(optim.beta1, optim.beta1 >= 0 && optim.beta1 < 1, "optim.beta1", "[0, 1)");
  check.within(optim.beta2, optim.beta2 >= 0 && optim.beta2 < 1, "optim.beta2", "[0, 1)");
  check.positive(optim.eps, "optim.eps");
  check.within(optim.weight_decay, optim.weight_decay >= 0, "optim.weight_decay", "[0, inf)");
  check.at_least(optim.warmup_steps, 0, "optim.warmup_steps");
  check.within(optim.warmup_epochs, optim.warmup_epochs >= 0, "optim.warmup_epochs", "[0, inf)");
  check(optim.warmup_steps == 0 || optim.warmup_epochs == 0, "optim.warmup_steps",
        "0 when optim.warmup_epochs is set (" + format_number(optim.warmup_epochs) + ")",
        std::to_string(optim.warmup_steps));
  check.at_least(optim.steps, 0, "optim.steps");
  if (optim.steps == 0) check.at_least(optim.epochs, 1, "optim.epochs");
  check.at_least(optim.batch_size, 1, "optim.batch_size");
  check.at_least(optim.accum_steps, 1, "optim.accum_steps");
  check(optim.batch_size % optim.accum_steps == 0, "optim.batch_size",
        "a multiple of optim.accum_steps (" + std::to_string(optim.accum_steps) + ")",
        std::to_string(optim.batch_size));
  check.within(optim.grad_clip, optim.grad_clip >= 0, "optim.grad_clip", "[0, inf) (0 = off)");
  check.within(optim.label_smoothing, optim.label_smoothing >= 0 && optim.label_smoothing < 1,
               "optim.label_smoothing", "[0, 1)");
  check.within(optim.aux_loss_weight, optim.aux_loss_weight >= 0, "optim.aux_loss_weight",
               "[0, inf)");
  check.within(optim.ema_decay, optim.ema_decay >= 0 && optim.ema_decay < 1, "optim.ema_decay",
               "[0, 1) (0 = no moving average)");
  check.at_least(optim.skip_nonfinite, 0, "optim.skip_nonfinite");
}

void check_run(const Checker& check, const RunConfig& run) {
  check.at_least(run.threads, 0, "run.threads");
  check(!run.output_dir.empty(), "run.output_dir", "a folder name", "''");
  check.at_least(run.log_every, 1, "run.log_every");
  check.at_least(run.checkpoint_every_steps, 0, "run.checkpoint_every_steps");
  check.at_least(run.collective_timeout_s, 1, "run.collective_timeout_s");
}

std::string source_of(const Config& config) {
  return config.source.empty() ? "config" : config.source;
}

}  // namespace

Config parse_config(const std::string& yaml_text, const std::string& source_name,
                    const std::vector<std::string>& overrides) {
  Config config;
  config.source = source_name;
  const std::vector<Assignment> from_file = read_file_text(yaml_text, source_of(config));
  require_one_placement(from_file);
  apply(from_file, config);
  const std::vector<Assignment> from_overrides = read_overrides(overrides, source_of(config));
  // An override of the placement replaces the file's rule rather than competing with it.
  if (require_one_placement(from_overrides)) config.model.placement = MoePlacement{};
  apply(from_overrides, config);
  default_loss_weights_for_bias({from_file, from_overrides}, config);
  check_config(config);
  return config;
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (std::filesystem::is_directory(path))
    throw std::invalid_argument(path + ": cannot read the config: it is a folder");
  std::ifstream file(path);
  if (!file)
    throw std::invalid_argument(path + ": cannot read the config: " + std::strerror(errno));
  std::ostringstream text;
  text << file.rdbuf();
  return parse_config(text.str(), path, overrides);
}

void check_config(const Config& config) {
  const Checker check{source_of(config)};
  try {
    check_model_config(config.model);  // its messages name the key but not the file
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(check.source + ": " + error.what());
  }
  check_data(check, config.data, config.model.channels);
  check_optim(check, config.optim);
  check_run(check, config.run);
}

void require_data_root(const Config& config) {
  const std::string& root = config.data.root;
  const std::string expected = "a folder of class folders (or train/ and val/)";
  if (root.empty()) refuse(source_of(config), "data.root", "expected " + expected + ", got ''");
  if (!std::filesystem::is_directory(root))
    refuse(source_of(config), "data.root",
           "expected " + expected + ", got '" + root + "' (no such folder)");
}

std::string dump_config(const Config& config) {
  std::ostringstream out;
  out << "# moevit config resolved from " << source_of(config)
      << ": every key, overrides applied\n";
  std::vector<std::string> open_sections;  // those of the previous key, outermost first
  for (const ConfigField& row : config_fields()) {
    std::vector<std::string> sections;
    std::istringstream parts(row.key);
    for (std::string part; std::getline(parts, part, '.');) sections.push_back(part);
    const std::string leaf = sections.back();
    sections.pop_back();
    size_t common = 0;
    while (common < std::min(sections.size(), open_sections.size()) &&
           sections[common] == open_sections[common])
      ++common;
    for (size_t level = common; level < sections.size(); ++level)
      out << std::string(2 * level, ' ') << sections[level] << ":\n";
    open_sections = sections;
    const std::string unused = row.unused_because ? row.unused_because(config) : "";
    out << std::string(2 * sections.size(), ' ') << (unused.empty() ? "" : "# ") << leaf << ": "
        << row.get(config) << (unused.empty() ? "" : "  (unused: " + unused + ")") << "\n";
  }
  return out.str();
}

}  // namespace moevit
