// The subset of JSON Schema that constrained decoding (json_constraint.h) enforces, e.g. for
// the server's response_format json_schema: `type` (one or a list), `properties`, `required`,
// `additionalProperties`, `items`, `minItems`/`maxItems`, `enum`/`const` of strings, `anyOf`/
// `oneOf` of simple types (as Optional fields produce), and `anyOf`/`oneOf` of objects told apart
// by one required property with a distinct string `const` (a discriminated union, as a list of
// tool calls is: that property must come first, so its value picks the branch the rest of the
// object follows). Objects with `properties` are closed unless `additionalProperties` is true,
// so the model writes the declared keys. Other keywords are accepted and not enforced.
// Immutable after compile(); shareable between requests and threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/status.h"

namespace hearth {

enum JsonTypeBit : uint8_t {
  kJsonObject = 1,
  kJsonArray = 2,
  kJsonString = 4,
  kJsonNumber = 8,
  kJsonInteger = 16,
  kJsonBoolean = 32,
  kJsonNull = 64,
  kJsonAny = 127,
};

struct SchemaNode {
  uint8_t types = kJsonAny;
  std::vector<std::pair<std::string, const SchemaNode*>> properties;
  std::vector<std::string> required;
  bool closed = false;                   // only the declared properties may appear
  const SchemaNode* items = nullptr;     // array elements; null: anything
  std::vector<std::string> string_enum;  // allowed string values (raw JSON text, no quotes)
  size_t min_items = 0;                  // arrays
  size_t max_items = SIZE_MAX;
  // A discriminated union: `properties` holds only the discriminator (an enum of every
  // branch's value), and once its value is written the object follows that value's branch.
  std::string discriminator;
  std::vector<std::pair<std::string, const SchemaNode*>> variants;  // raw value -> branch

  const SchemaNode* property(std::string_view name) const;
  const SchemaNode* variant(std::string_view value) const;
};

class JsonSchema {
 public:
  // An invalid_input Error saying what is wrong when the schema is not usable.
  // `container_root`: the top level may also be an array (a list of tool calls).
  static Result<std::shared_ptr<const JsonSchema>> compile(const nlohmann::ordered_json& schema,
                                                           bool container_root = false);
  const SchemaNode& root() const { return *nodes_.front(); }

 private:
  const SchemaNode* add(const nlohmann::ordered_json& schema, int depth, std::string& error);
  // Compiles `branches` into `node` as a discriminated union; false when they are not one.
  bool add_union(SchemaNode* node, const nlohmann::ordered_json& branches, int depth,
                 std::string& error);
  std::vector<std::unique_ptr<SchemaNode>> nodes_;
};

}  // namespace hearth
