#include "app/run/config_fields.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

namespace moevit {

std::string format_number(double value) {
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {  // 17 significant digits always round-trip
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

std::string describe_value(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsScalar())
    return node.Tag() == "!" ? "the string '" + node.Scalar() + "'" : node.Scalar();
  YAML::Emitter flow;
  flow << YAML::Flow << node;
  return (node.IsSequence() ? "a list " : "a map ") + std::string(flow.c_str());
}

namespace {

[[noreturn]] void refuse(const std::string& expected, const YAML::Node& node) {
  throw ConfigValueError("expected " + expected + ", got " + describe_value(node));
}

// A plain scalar converted to T. A quoted scalar is a string: dim: "192" is refused.
template <typename T>
T read_plain(const YAML::Node& node, const std::string& expected) {
  T value{};
  if (!node.IsScalar() || node.Tag() == "!" || !YAML::convert<T>::decode(node, value))
    refuse(expected, node);
  return value;
}

// A codec reads one YAML value (throwing ConfigValueError) and writes it back as YAML text.
struct IntegerCodec {
  std::string expected = "an integer";
  int64_t read(const YAML::Node& node) const { return read_plain<int64_t>(node, expected); }
  std::string write(int64_t value) const { return std::to_string(value); }
};

struct NumberCodec {
  std::string expected = "a number";
  double read(const YAML::Node& node) const {
    const double value = read_plain<double>(node, expected);
    if (!std::isfinite(value)) refuse("a finite number", node);
    return value;
  }
  std::string write(double value) const { return format_number(value); }
};

struct BooleanCodec {
  std::string expected = "true or false";
  bool read(const YAML::Node& node) const { return read_plain<bool>(node, expected); }
  std::string write(bool value) const { return value ? "true" : "false"; }
};

struct TextCodec {
  std::string expected = "a string";
  std::string read(const YAML::Node& node) const {
    if (node.IsNull()) return "";  // `root:` with nothing after it
    if (!node.IsScalar()) refuse(expected, node);
    return node.Scalar();
  }
  std::string write(const std::string& value) const {
    YAML::Emitter quoted;  // quoted, so that '', 'true' or '1e3' read back as strings
    quoted << YAML::DoubleQuoted << value;
    return quoted.c_str();
  }
};

template <typename ElementCodec>
struct ListCodec {
  ElementCodec element;
  std::string expected;  // e.g. "a non-empty list of numbers"
  auto read(const YAML::Node& node) const {
    std::vector<decltype(element.read(node))> values;
    if (!node.IsSequence() || node.size() == 0) refuse(expected, node);
    try {
      for (const YAML::Node& item : node) values.push_back(element.read(item));
    } catch (const ConfigValueError&) {
      refuse(expected, node);
    }
    return values;
  }
  template <typename T>
  std::string write(const std::vector<T>& values) const {
    std::string text = "[";
    for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + element.write(values[i]);
    return text + "]";
  }
};

// An enum's value by any of the names in its table (ops/enum_names.h), written back by its
// canonical name.
template <typename Enum>
struct ChoiceCodec {
  EnumNames<Enum> names = enum_names(Enum{});
  std::string expected = "one of " + names.choices();

  Enum read(const YAML::Node& node) const {
    if (node.IsScalar())
      if (const std::optional<Enum> value = names.parse(node.Scalar())) return *value;
    refuse(expected, node);
  }
  std::string write(Enum value) const { return names.canonical(value); }
};

// One row: `section` picks the sub-struct of Config (generic, so it serves const and not),
// `member` the field in it.
template <typename Codec, typename Section, typename Struct, typename Value>
ConfigField field(const char* key, const Codec& codec, Section section, Value Struct::*member) {
  ConfigField row;
  row.key = key;
  row.expected = codec.expected;
  row.set = [=](Config& config, const YAML::Node& node) {
    section(config).*member = codec.read(node);
  };
  row.get = [=](const Config& config) { return codec.write(section(config).*member); };
  return row;
}

// The placement rule MoePlacement applies: an explicit list, else last, else every.
std::string placement_rule(const MoePlacement& placement) {
  if (!placement.blocks.empty()) return "moe.blocks";
  return placement.last > 0 ? "moe.last" : "moe.every";
}

ConfigField placement_field(ConfigField row) {
  row.unused_because = [key = row.key](const Config& config) {
    const std::string rule = placement_rule(config.model.placement);
    return rule == key ? std::string() : rule + " is used";
  };
  return row;
}

std::vector<ConfigField> make_fields() {
  const auto model = [](auto& config) -> auto& {
    return config.model;
  };
  const auto moe = [](auto& config) -> auto& {
    return config.model.moe;
  };
  const auto placement = [](auto& config) -> auto& {
    return config.model.placement;
  };
  const auto loss = [](auto& config) -> auto& {
    return config.model.moe.loss_weights;
  };
  const auto data = [](auto& config) -> auto& {
    return config.data;
  };
  const auto optim = [](auto& config) -> auto& {
    return config.optim;
  };
  const auto run = [](auto& config) -> auto& {
    return config.run;
  };
  const IntegerCodec integer;
  const NumberCodec number;
  const BooleanCodec boolean;
  const TextCodec text;
  const ListCodec<IntegerCodec> block_ids{integer, "a non-empty list of block ids (integers)"};
  const ListCodec<NumberCodec> numbers{number, "a non-empty list of numbers"};
  const ChoiceCodec<Pooling> pooling{};
  const ChoiceCodec<Stem> stem{};
  const ChoiceCodec<AttentionKind> attention{};
  const ChoiceCodec<RouterKind> router{};
  const ChoiceCodec<GateFunction> gate{};
  const ChoiceCodec<BalanceMethod> balance{};
  const ChoiceCodec<PriorityAt> priority_at{};
  const ChoiceCodec<BalanceScope> balance_scope{};
  const ChoiceCodec<Device> device{};
  const ChoiceCodec<Precision> precision{};
  const ChoiceCodec<AutoAugmentKind> auto_augment{};
  return {
      field("model.image_size", integer, model, &ModelConfig::image_size),
      field("model.patch_size", integer, model, &ModelConfig::patch_size),
      field("model.channels", integer, model, &ModelConfig::channels),
      field("model.dim", integer, model, &ModelConfig::dim),
      field("model.depth", integer, model, &ModelConfig::depth),
      field("model.heads", integer, model, &ModelConfig::heads),
      field("model.mlp_dim", integer, model, &ModelConfig::mlp_dim),
      field("model.num_classes", integer, model, &ModelConfig::num_classes),
      field("model.pooling", pooling, model, &ModelConfig::pooling),
      field("model.stem", stem, model, &ModelConfig::stem),
      field("model.attention", attention, model, &ModelConfig::attention),
      field("model.dropout", number, model, &ModelConfig::dropout),
      field("model.drop_path", number, model, &ModelConfig::drop_path),
      field("model.drop_path_moe", boolean, model, &ModelConfig::drop_path_moe),
      field("moe.router", router, moe, &MoeOptions::router),
      field("moe.num_experts", integer, moe, &MoeOptions::num_experts),
      field("moe.k", integer, moe, &MoeOptions::experts_per_token),
      field("moe.renormalize", boolean, moe, &MoeOptions::renormalize_gates),
      field("moe.gate", gate, moe, &MoeOptions::gate),
      field("moe.top_p", number, moe, &MoeOptions::top_p),
      field("moe.expert_mlp_dim", integer, moe, &MoeOptions::expert_mlp_dim),
      field("moe.gate_scale", number, moe, &MoeOptions::gate_scale),
      field("moe.noise_std", number, moe, &MoeOptions::noise_std),
      field("moe.capacity_factor", number, moe, &MoeOptions::capacity_factor),
      field("moe.eval_capacity_factor", number, moe, &MoeOptions::eval_capacity_factor),
      field("moe.capacity_multiple", integer, moe, &MoeOptions::capacity_multiple),
      field("moe.priority_at", priority_at, moe, &MoeOptions::priority_at),
      field("moe.group_size", integer, moe, &MoeOptions::group_size),
      field("moe.slots_per_expert", integer, moe, &MoeOptions::slots_per_expert),
      placement_field(field("moe.every", integer, placement, &MoePlacement::every)),
      placement_field(field("moe.last", integer, placement, &MoePlacement::last)),
      placement_field(field("moe.blocks", block_ids, placement, &MoePlacement::blocks)),
      field("moe.loss.importance", number, loss, &AuxLossWeights::importance),
      field("moe.loss.load", number, loss, &AuxLossWeights::load),
      field("moe.loss.switch", number, loss, &AuxLossWeights::switch_balance),
      field("moe.loss.z", number, loss, &AuxLossWeights::z_loss),
      field("moe.balance_scope", balance_scope, moe, &MoeOptions::balance_scope),
      field("moe.balance", balance, moe, &MoeOptions::balance),
      field("moe.bias_rate", number, moe, &MoeOptions::bias_rate),
      field("moe.shared_experts", integer, moe, &MoeOptions::shared_experts),
      field("moe.shared_expert_mlp_dim", integer, moe, &MoeOptions::shared_expert_mlp_dim),
      field("data.root", text, data, &DataConfig::root),
      field("data.val_split", number, data, &DataConfig::val_split),
      field("data.workers", integer, data, &DataConfig::workers),
      field("data.mean", numbers, data, &DataConfig::mean),
      field("data.std", numbers, data, &DataConfig::std),
      field("data.random_resized_crop", boolean, data, &DataConfig::random_resized_crop),
      field("data.scale_min", number, data, &DataConfig::scale_min),
      field("data.scale_max", number, data, &DataConfig::scale_max),
      field("data.ratio_min", number, data, &DataConfig::ratio_min),
      field("data.ratio_max", number, data, &DataConfig::ratio_max),
      field("data.crop_padding", integer, data, &DataConfig::crop_padding),
      field("data.hflip", number, data, &DataConfig::hflip),
      field("data.random_erasing", number, data, &DataConfig::random_erasing),
      field("data.auto_augment", auto_augment, data, &DataConfig::auto_augment),
      field("data.randaugment_n", integer, data, &DataConfig::randaugment_n),
      field("data.randaugment_m", integer, data, &DataConfig::randaugment_m),
      field("data.color_jitter", number, data, &DataConfig::color_jitter),
      field("data.mixup", number, data, &DataConfig::mixup),
      field("data.cutmix", number, data, &DataConfig::cutmix),
      field("data.mixup_prob", number, data, &DataConfig::mixup_prob),
      field("data.mixup_switch_prob", number, data, &DataConfig::mixup_switch_prob),
      field("data.crop_fraction", number, data, &DataConfig::crop_fraction),
      field("data.eval_hflip", boolean, data, &DataConfig::eval_hflip),
      field("data.max_pixels", integer, data, &DataConfig::max_pixels),
      field("data.drop_last", boolean, data, &DataConfig::drop_last),
      field("optim.lr", number, optim, &OptimConfig::lr),
      field("optim.min_lr", number, optim, &OptimConfig::min_lr),
      field("optim.beta1", number, optim, &OptimConfig::beta1),
      field("optim.beta2", number, optim, &OptimConfig::beta2),
      field("optim.eps", number, optim, &OptimConfig::eps),
      field("optim.weight_decay", number, optim, &OptimConfig::weight_decay),
      field("optim.warmup_steps", integer, optim, &OptimConfig::warmup_steps),
      field("optim.warmup_epochs", number, optim, &OptimConfig::warmup_epochs),
      field("optim.epochs", integer, optim, &OptimConfig::epochs),
      field("optim.steps", integer, optim, &OptimConfig::steps),
      field("optim.batch_size", integer, optim, &OptimConfig::batch_size),
      field("optim.accum_steps", integer, optim, &OptimConfig::accum_steps),
      field("optim.grad_clip", number, optim, &OptimConfig::grad_clip),
      field("optim.label_smoothing", number, optim, &OptimConfig::label_smoothing),
      field("optim.aux_loss_weight", number, optim, &OptimConfig::aux_loss_weight),
      field("optim.ema_decay", number, optim, &OptimConfig::ema_decay),
      field("optim.skip_nonfinite", integer, optim, &OptimConfig::skip_nonfinite),
      field("run.seed", integer, run, &RunConfig::seed),
      field("run.device", device, run, &RunConfig::device),
      field("run.threads", integer, run, &RunConfig::threads),
      field("run.output_dir", text, run, &RunConfig::output_dir),
      field("run.precision", precision, run, &RunConfig::precision),
      field("run.log_every", integer, run, &RunConfig::log_every),
      field("run.checkpoint_every_steps", integer, run, &RunConfig::checkpoint_every_steps),
      field("run.collective_timeout_s", integer, run, &RunConfig::collective_timeout_s),
  };
}

}  // namespace

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = make_fields();
  return fields;
}

const ConfigField* find_config_field(const std::string& key) {
  for (const ConfigField& row : config_fields())
    if (row.key == key) return &row;
  return nullptr;
}

}  // namespace moevit
