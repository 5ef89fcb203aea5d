// The spellings of an enum's values, written once: a table beside the enum names its values in
// the enum's order, "|" between values; a value's canonical name comes first, then any aliases
// after ",", which are accepted on input only:
//   enum class RouterKind { kDense, kTopK, kPriority, kSoft, kExpertChoice };
//   inline constexpr EnumNames<RouterKind> kRouterKindNames{
//       "dense,none|topk|priority|soft|expert_choice"};
// A hook beside the tables, constexpr EnumNames<RouterKind> enum_names(RouterKind) (the argument
// only picks the table), lets `to_string` and the config reader (app/run/config_fields.cpp) find
// it, so config.yaml and checkpoints keep writing the canonical names.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace moevit {

template <typename Enum>
class EnumNames {
 public:
  // `table` as above, with static storage (a string literal).
  constexpr explicit EnumNames(const char* table) : table_(table) {}

  // The canonical name of `value`; "unknown" for a value past the table's end.
  std::string canonical(Enum value) const {
    const std::vector<std::vector<std::string>> names = names_by_value();
    const std::size_t index = static_cast<std::size_t>(value);
    return index < names.size() ? names[index].front() : "unknown";
  }

  // The value `text` names, canonical or alias; std::nullopt when none does.
  std::optional<Enum> parse(const std::string& text) const {
    const std::vector<std::vector<std::string>> names = names_by_value();
    for (std::size_t index = 0; index < names.size(); ++index)
      for (const std::string& name : names[index])
        if (name == text) return static_cast<Enum>(index);
    return std::nullopt;
  }

  // Every accepted name in table order, e.g. "dense|none|topk|priority|soft|expert_choice".
  std::string choices() const {
    std::string joined;
    for (const std::vector<std::string>& value_names : names_by_value())
      for (const std::string& name : value_names) joined += (joined.empty() ? "" : "|") + name;
    return joined;
  }

 private:
  // names_by_value()[value] = {canonical name, aliases...}.
  std::vector<std::vector<std::string>> names_by_value() const {
    std::vector<std::vector<std::string>> names(1);
    std::string name;
    for (const char* next = table_;; ++next) {
      if (*next != '|' && *next != ',' && *next != '\0') {
        name += *next;
        continue;
      }
      names.back().push_back(name);
      name.clear();
      if (*next == '\0') return names;
      if (*next == '|') names.emplace_back();
    }
  }

  const char* table_;
};

// The canonical name of any enum value that has a table (found through its `enum_names` hook);
// other types do not match, so std::to_string and the other to_string overloads are untouched.
template <typename Enum, typename = decltype(enum_names(Enum{}))>
std::string to_string(Enum value) {
  return enum_names(value).canonical(value);
}

}  // namespace moevit
