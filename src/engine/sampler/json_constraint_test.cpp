#include "engine/sampler/json_constraint.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/sampler/json_schema.h"

namespace hearth {
namespace {

// Feeds `text` in pieces of `step` bytes; returns whether every piece was accepted.
bool feed_all(JsonConstraint& c, const std::string& text, size_t step) {
  for (size_t i = 0; i < text.size(); i += step) {
    const std::string piece = text.substr(i, step);
    if (!c.accepts(piece)) return false;
    c.commit(piece);
  }
  return true;
}

TEST(JsonConstraint, AcceptsValidObjectsInAnySplit) {
  const std::vector<std::string> valid = {
      R"({})",
      R"( {"a": 1})",
      R"({"name": "Ada", "age": 36, "tags": ["x", "y"], "ok": true, "none": null})",
      R"({"n": -0.5e+10, "m": 0, "deep": {"a": [1, [2, {"b": []}]]}})",
      R"({"esc": "quote \" slash \\ unicode \u00e9 newline \n"})",
      "{\"utf8\": \"caf\xc3\xa9 \xf0\x9f\x99\x82\"}",
  };
  for (const auto& text : valid) {
    for (size_t step : {1u, 2u, 3u, 7u, 100u}) {
      JsonConstraint c;
      EXPECT_TRUE(feed_all(c, text, step)) << text << " step " << step;
      EXPECT_TRUE(c.complete()) << text;
      EXPECT_TRUE(nlohmann::json::accept(text)) << "test vector itself must be valid: " << text;
    }
  }
}

TEST(JsonConstraint, RejectsInvalidContinuations) {
  const std::vector<std::string> invalid = {
      "[1, 2]",             // top level must be an object
      "\"text\"",           // likewise
      "{a: 1}",             // unquoted key
      "{\"a\" 1}",          // missing colon
      "{\"a\": 01}",        // leading zero
      "{\"a\": 1,}",        // trailing comma
      "{\"a\": tru }",      // broken literal
      "{\"a\": \"\x01\"}",  // raw control character
      "{\"a\": \"\\x\"}",   // bad escape
      "{\"a\": 1.}",        // digit required after the dot
      "{} extra",           // nothing after the object
      "{\"a\": [1 2]}",     // missing comma
  };
  for (const auto& text : invalid) {
    JsonConstraint c;
    EXPECT_FALSE(feed_all(c, text, 1) && c.complete()) << text;
  }
}

TEST(JsonConstraint, BoundsWhitespaceAndDepth) {
  JsonConstraint c;
  EXPECT_FALSE(c.accepts(std::string(100, ' ')));
  EXPECT_TRUE(c.accepts(std::string(8, ' ')));
  JsonConstraint deep;
  std::string nested = "{\"a\":";
  nested += std::string(200, '[');
  EXPECT_FALSE(deep.accepts(nested));
}

TEST(JsonConstraint, ClosingSuffixMakesEveryPrefixParse) {
  const std::string text =
      R"({"name": "A\u00e9\n", "n": [-1.5e+3, true, null, {"k": {}}], "empty": [], "x": 0})";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    JsonConstraint c;
    ASSERT_TRUE(feed_all(c, text.substr(0, cut), 1)) << cut;
    const std::string closed = text.substr(0, cut) + c.closing_suffix();
    EXPECT_TRUE(nlohmann::json::accept(closed)) << "cut at " << cut << ": " << closed;
    const auto parsed = nlohmann::json::parse(closed, nullptr, false);
    EXPECT_TRUE(parsed.is_object()) << closed;
  }
}

std::shared_ptr<const JsonSchema> schema(const char* text) {
  auto compiled = JsonSchema::compile(nlohmann::ordered_json::parse(text));
  EXPECT_TRUE(compiled) << (compiled ? "" : compiled.error().message);
  return compiled ? *compiled : nullptr;
}

bool follows(const std::shared_ptr<const JsonSchema>& s, const std::string& text) {
  JsonConstraint c(s);
  return feed_all(c, text, 1) && c.complete();
}

TEST(JsonConstraint, SchemaConstrainsKeysTypesEnumsAndRequired) {
  auto person = schema(R"({
    "type": "object",
    "properties": {
      "name": {"type": "string"},
      "age": {"type": "integer"},
      "mood": {"enum": ["happy", "sad"]},
      "tags": {"type": "array", "items": {"type": "string"}},
      "nick": {"anyOf": [{"type": "string"}, {"type": "null"}]}
    },
    "required": ["name", "age"]
  })");
  EXPECT_TRUE(follows(person, R"({"name": "Ada", "age": 36})"));
  EXPECT_TRUE(
      follows(person, R"({"age": 1, "name": "B", "mood": "sad", "tags": ["x"], "nick": null})"));
  EXPECT_FALSE(follows(person, R"({"name": "Ada"})"));                  // age is required
  EXPECT_FALSE(follows(person, R"({"name": "Ada", "age": 3.5})"));      // integer
  EXPECT_FALSE(follows(person, R"({"name": 5, "age": 3})"));            // string
  EXPECT_FALSE(follows(person, R"({"name": "A", "age": 3, "x": 1})"));  // closed object
  EXPECT_FALSE(follows(person, R"({"name": "A", "age": 3, "mood": "meh"})"));
  EXPECT_FALSE(follows(person, R"({"name": "A", "age": 3, "tags": [1]})"));
  EXPECT_FALSE(follows(person, R"({"name": "A", "name": "B", "age": 3})"));  // duplicate
  EXPECT_FALSE(follows(person, R"({"name": "A", "age": 3, "nick": 7})"));

  // Prefixes of an allowed key or enum value are fine while they are being written.
  JsonConstraint c(person);
  EXPECT_TRUE(c.accepts(R"({"na)"));
  EXPECT_FALSE(c.accepts(R"({"nx)"));
  EXPECT_TRUE(c.accepts(R"({"mood": "ha)"));
  EXPECT_FALSE(c.accepts(R"({"mood": "hx)"));
}

// Once every declared key of a closed object is written, only '}' may follow: a comma (or an
// empty object's key) would leave no valid continuation and the model would be cut off.
TEST(JsonConstraint, ClosedObjectWithEveryKeyWrittenOnlyCloses) {
  auto point = schema(R"({"type": "object", "properties": {"x": {"type": "integer"}}})");
  JsonConstraint c(point);
  ASSERT_TRUE(c.accepts(R"({"x": 1)"));
  EXPECT_FALSE(c.accepts(R"({"x": 1,)"));
  EXPECT_TRUE(c.accepts(R"({"x": 1 })"));
  auto empty = schema(R"({"type": "object", "properties": {}})");
  JsonConstraint e(empty);
  EXPECT_FALSE(e.accepts(R"({")"));
  EXPECT_TRUE(e.accepts("{}"));
}

TEST(JsonConstraint, OpenObjectsAndBadSchemas) {
  auto open = schema(R"({"type": "object", "properties": {"a": {"type": "number"}},
                         "additionalProperties": true})");
  EXPECT_TRUE(follows(open, R"({"a": 1.5, "anything": [true]})"));
  EXPECT_FALSE(JsonSchema::compile(nlohmann::ordered_json::parse(R"({"type": "string"})")));
  EXPECT_FALSE(JsonSchema::compile(nlohmann::ordered_json::parse(R"({"type": "weird"})")));
  EXPECT_FALSE(JsonSchema::compile(nlohmann::ordered_json::parse(
      R"({"type": "object", "properties": {}, "required": ["missing"]})")));
}

// oneOf of objects pinned apart by a const property: the tag is written first and picks the
// branch the rest of the object follows.
TEST(JsonConstraint, DiscriminatedUnionPicksTheBranchByItsTag) {
  auto call = schema(R"({"oneOf": [
    {"type": "object", "properties": {"name": {"const": "a"},
      "arguments": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}},
     "required": ["name", "arguments"]},
    {"type": "object", "properties": {"name": {"const": "b"},
      "arguments": {"type": "object", "properties": {"y": {"type": "boolean"}}}},
     "required": ["name", "arguments"]}]})");
  EXPECT_TRUE(follows(call, R"({"name": "a", "arguments": {"x": 1}})"));
  EXPECT_TRUE(follows(call, R"({"name": "b", "arguments": {}})"));
  EXPECT_FALSE(follows(call, R"({"name": "a", "arguments": {}})"));           // x required
  EXPECT_FALSE(follows(call, R"({"name": "a", "arguments": {"y": true}})"));  // b's key
  EXPECT_FALSE(follows(call, R"({"name": "c", "arguments": {}})"));
  EXPECT_FALSE(follows(call, R"({"arguments": {}, "name": "b"})"));  // the tag comes first
  EXPECT_FALSE(follows(call, R"({"name": "b"})"));                   // arguments required
  // Without a shared pinned property it stays the loose union it was.
  auto loose = schema(R"({"type": "object", "properties": {"v": {"oneOf": [
    {"type": "object", "properties": {"k": {"const": "a"}}}, {"type": "string"}]}}})");
  EXPECT_TRUE(follows(loose, R"({"v": 3})"));
}

TEST(JsonConstraint, ArrayRootAndItemBounds) {
  auto list = JsonSchema::compile(nlohmann::ordered_json::parse(
                                      R"({"type": "array", "items": {"type": "integer"},
                                          "minItems": 1, "maxItems": 2})"),
                                  /*container_root=*/true);
  ASSERT_TRUE(list);
  JsonConstraintOptions options;
  options.array_root = true;
  auto fits = [&](const std::string& text) {
    JsonConstraint c(*list, options);
    return feed_all(c, text, 1) && c.complete();
  };
  EXPECT_TRUE(fits("[1]"));
  EXPECT_TRUE(fits("[1, 2]"));
  EXPECT_FALSE(fits("[]"));
  EXPECT_FALSE(fits("[1, 2, 3]"));
  EXPECT_FALSE(fits("{}"));
  // Arrays at the top level need the option (response_format objects never get one).
  JsonConstraint object_only(*list);
  EXPECT_FALSE(object_only.accepts("["));
  EXPECT_FALSE(JsonSchema::compile(nlohmann::ordered_json::parse(R"({"type": "array"})")));
}

TEST(JsonConstraint, WhitespaceLimitsCountLineBreaks) {
  JsonConstraintOptions options;
  options.max_whitespace_run = 9;
  options.max_newlines = 1;
  JsonConstraint c(nullptr, options);
  EXPECT_TRUE(c.accepts("\n        {"));
  EXPECT_FALSE(c.accepts("\n\n{"));
  EXPECT_FALSE(c.accepts("\r\n{"));
  EXPECT_FALSE(c.accepts(std::string(10, ' ')));
  EXPECT_TRUE(c.accepts("{\n\"a\":\n1,\n\"b\": 2}"));  // one break per gap, many gaps
}

TEST(JsonConstraint, EmptyPieceIsNotProgress) {
  JsonConstraint c;
  EXPECT_FALSE(c.accepts(""));
  EXPECT_FALSE(c.complete());
}

}  // namespace
}  // namespace hearth
