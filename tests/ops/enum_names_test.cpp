#include "ops/enum_names.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace moevit {
namespace {

enum class Colour { kRed, kGreen, kBlue };
constexpr EnumNames<Colour> kColourNames{"red|green,vert"};  // no name for kBlue
constexpr EnumNames<Colour> enum_names(Colour) {
  return kColourNames;
}

TEST(EnumNames, ToStringWritesTheCanonicalNameOfTheValue) {
  EXPECT_EQ(to_string(Colour::kRed), "red");
  EXPECT_EQ(to_string(Colour::kGreen), "green");
  EXPECT_EQ(to_string(Colour::kBlue), "unknown");  // a value past the table's end
}

TEST(EnumNames, AliasesAreReadButNeverWritten) {
  EXPECT_TRUE(kColourNames.parse("red") == Colour::kRed);
  EXPECT_TRUE(kColourNames.parse("green") == Colour::kGreen);
  EXPECT_TRUE(kColourNames.parse("vert") == Colour::kGreen);
  EXPECT_FALSE(kColourNames.parse("Green").has_value());  // names are exact
  EXPECT_FALSE(kColourNames.parse("").has_value());
  EXPECT_FALSE(kColourNames.parse("red|green").has_value());
  EXPECT_EQ(kColourNames.choices(), "red|green|vert");
  EXPECT_EQ(kColourNames.canonical(*kColourNames.parse("vert")), "green");
}

}  // namespace
}  // namespace moevit
