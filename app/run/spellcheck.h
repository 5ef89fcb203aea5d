#pragma once

#include <cstddef>
#include <string>

namespace moevit {

// Levenshtein distance (insertions, deletions, substitutions), for "did you mean" suggestions
// as ninja's SpellcheckStringV.
size_t edit_distance(const std::string& from, const std::string& to);

}  // namespace moevit
