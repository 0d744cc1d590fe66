// Vector-store search filters and attribute limits.
#include "rag/filters.h"

#include <gtest/gtest.h>

namespace hearth::rag {
namespace {

using json = nlohmann::ordered_json;

bool match(const json& filter, const json& attributes) {
  auto f = parse_filter(filter);
  EXPECT_TRUE(f) << f.error().message;
  return f && filter_matches(*f, attributes);
}

TEST(RagFilters, Comparisons) {
  const json a = {{"topic", "keys"}, {"year", 2024}, {"draft", false}, {"score", 0.5}};
  EXPECT_TRUE(match({{"type", "eq"}, {"key", "topic"}, {"value", "keys"}}, a));
  EXPECT_FALSE(match({{"type", "eq"}, {"key", "topic"}, {"value", "cats"}}, a));
  EXPECT_TRUE(match({{"type", "ne"}, {"key", "topic"}, {"value", "cats"}}, a));
  EXPECT_TRUE(match({{"type", "gt"}, {"key", "year"}, {"value", 2023}}, a));
  EXPECT_FALSE(match({{"type", "gt"}, {"key", "year"}, {"value", 2024}}, a));
  EXPECT_TRUE(match({{"type", "gte"}, {"key", "year"}, {"value", 2024}}, a));
  EXPECT_TRUE(match({{"type", "lt"}, {"key", "score"}, {"value", 1}}, a));
  EXPECT_TRUE(match({{"type", "lte"}, {"key", "year"}, {"value", 2024.0}}, a));
  EXPECT_TRUE(match({{"type", "eq"}, {"key", "draft"}, {"value", false}}, a));
  EXPECT_FALSE(match({{"type", "gt"}, {"key", "draft"}, {"value", false}}, a));
  EXPECT_TRUE(match({{"type", "lt"}, {"key", "topic"}, {"value", "zebra"}}, a));  // bytewise
}

TEST(RagFilters, MissingKeysAndMixedTypes) {
  const json a = {{"year", 2024}};
  EXPECT_FALSE(match({{"type", "eq"}, {"key", "nope"}, {"value", 1}}, a));
  EXPECT_TRUE(match({{"type", "ne"}, {"key", "nope"}, {"value", 1}}, a));
  EXPECT_FALSE(match({{"type", "eq"}, {"key", "year"}, {"value", "2024"}}, a));
  EXPECT_TRUE(match({{"type", "ne"}, {"key", "year"}, {"value", "2024"}}, a));
  EXPECT_FALSE(match({{"type", "gt"}, {"key", "year"}, {"value", "1"}}, a));
  EXPECT_FALSE(match({{"type", "eq"}, {"key", "year"}, {"value", 2024}}, json(nullptr)));
}

TEST(RagFilters, Compound) {
  const json a = {{"topic", "keys"}, {"year", 2024}};
  const json is_keys = {{"type", "eq"}, {"key", "topic"}, {"value", "keys"}};
  const json old = {{"type", "lt"}, {"key", "year"}, {"value", 2000}};
  EXPECT_FALSE(match({{"type", "and"}, {"filters", json::array({is_keys, old})}}, a));
  EXPECT_TRUE(match({{"type", "or"}, {"filters", json::array({is_keys, old})}}, a));
  EXPECT_TRUE(
      match({{"type", "and"},
             {"filters",
              json::array({is_keys, {{"type", "or"}, {"filters", json::array({old, is_keys})}}})}},
            a));
}

TEST(RagFilters, InvalidFiltersAreErrors) {
  for (const json& bad :
       {json("eq"), json::object(), json{{"type", "like"}, {"key", "a"}, {"value", 1}},
        json{{"type", "eq"}, {"value", 1}}, json{{"type", "eq"}, {"key", ""}, {"value", 1}},
        json{{"type", "eq"}, {"key", "a"}}, json{{"type", "eq"}, {"key", "a"}, {"value", {1, 2}}},
        json{{"type", "eq"}, {"key", "a"}, {"value", nullptr}}, json{{"type", "and"}},
        json{{"type", "or"}, {"filters", json::array()}},
        json{{"type", "and"}, {"filters", json::array({json{{"type", "eq"}}})}}}) {
    EXPECT_FALSE(parse_filter(bad)) << bad.dump();
  }
  json deep = {{"type", "eq"}, {"key", "a"}, {"value", 1}};
  for (int i = 0; i < 12; ++i) deep = {{"type", "and"}, {"filters", json::array({deep})}};
  EXPECT_FALSE(parse_filter(deep));
}

TEST(RagFilters, AttributeLimits) {
  EXPECT_TRUE(validate_attributes(nullptr));
  EXPECT_TRUE(validate_attributes({{"a", "x"}, {"b", 1}, {"c", true}}));
  EXPECT_FALSE(validate_attributes(json::array()));
  EXPECT_FALSE(validate_attributes({{"a", {1}}}));
  EXPECT_FALSE(validate_attributes({{"a", nullptr}}));
  EXPECT_FALSE(validate_attributes({{std::string(65, 'k'), 1}}));
  EXPECT_FALSE(validate_attributes({{"a", std::string(513, 'v')}}));
  json many = json::object();
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = i;
  EXPECT_FALSE(validate_attributes(many));
}

}  // namespace
}  // namespace hearth::rag
