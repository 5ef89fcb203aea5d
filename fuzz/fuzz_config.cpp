// Fuzz target "config": a YAML config and `--set` overrides as `moevit train` reads them. The
// input is the YAML text, then optionally '\0' and overrides separated by '\0', e.g.
//   "model:\n  dim: 64\n" "\0" "moe.blocks=[1,3]" "\0" "optim.lr=3e-4"
// Invariant beyond "no crash": a config parse_config accepts survives the round trip every
// checkpoint relies on (it stores dump_config, load_model parses it back): the dump parses, and
// dumps to the same text.
#include <cstdint>
#include <string>
#include <vector>

#include "app/run/config.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {
namespace {

const char kTarget[] = "config";
const char kSource[] = "fuzz.yaml";

struct ConfigInput {
  std::string yaml_text;
  std::vector<std::string> overrides;
};

ConfigInput split_input(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  ConfigInput input;
  size_t end = text.find('\0');
  input.yaml_text = text.substr(0, end);
  while (end != std::string::npos) {
    const size_t begin = end + 1;
    end = text.find('\0', begin);
    input.overrides.push_back(text.substr(begin, end == std::string::npos ? end : end - begin));
  }
  return input;
}

void check_round_trip(const Config& config) {
  const std::string dumped = dump_config(config);
  std::string dumped_again;
  try {
    dumped_again = dump_config(parse_config(dumped, kSource, {}));
  } catch (const std::exception& error) {
    report_finding(kTarget, std::string("dump_config's text does not parse back: ") + error.what() +
                                "\n" + dumped);
  }
  if (dumped_again != dumped)
    report_finding(kTarget, "dump_config's text parses back to another config:\n" + dumped +
                                "---- parsed and dumped again:\n" + dumped_again);
}

}  // namespace

bool fuzz_config(const uint8_t* data, size_t size) {
  const ConfigInput input = split_input(data, size);
  return run_input(
      kTarget, [&] { check_round_trip(parse_config(input.yaml_text, kSource, input.overrides)); });
}

}  // namespace moevit
