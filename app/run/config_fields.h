// The one table of config keys. Each row reads its YAML value into a Config field and writes
// it back as YAML text; loading, --set overrides and dump_config all walk this table.
// Internal to app/run/config*.cpp.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/run/config.h"

namespace YAML {
class Node;
}

namespace moevit {

// A value of the wrong type or shape ("expected an integer, got 1.5"); the caller prefixes the
// source and the key.
struct ConfigValueError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

struct ConfigField {
  std::string key;       // dotted, e.g. "moe.num_experts"
  std::string expected;  // the value's type, e.g. "an integer" or "one of gap|token"
  std::function<void(Config&, const YAML::Node&)> set;  // throws ConfigValueError
  std::function<std::string(const Config&)> get;        // the value as YAML text
  // Non-empty when the key has no effect in this config (an unused moe placement rule): why.
  std::function<std::string(const Config&)> unused_because;
};

// Every key, in dump order (grouped by section).
const std::vector<ConfigField>& config_fields();

// The row for `key`, or nullptr.
const ConfigField* find_config_field(const std::string& key);

// What a refused value was, for the "got" half of a message: 1.5, the string '192', nothing,
// a list [1, 2], a map {a: 1}.
std::string describe_value(const YAML::Node& node);

// The shortest decimal text that reads back to exactly `value` (0.1 → "0.1", not 0.100000).
std::string format_number(double value);

}  // namespace moevit
