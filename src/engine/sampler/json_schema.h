// The subset of JSON Schema that constrained decoding (json_constraint.h) enforces, e.g. for
// the server's response_format json_schema: `type` (one or a list), `properties`, `required`,
// `additionalProperties`, `items`, `enum`/`const` of strings, and `anyOf`/`oneOf` of simple types
// (as Optional fields produce). Objects with `properties` are closed unless `additionalProperties`
// is true, so the model writes the declared keys. Other keywords are accepted and not enforced.
// Immutable after compile(); shareable between requests and threads.
#pragma once

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

  const SchemaNode* property(std::string_view name) const;
};

class JsonSchema {
 public:
  // An invalid_input Error saying what is wrong when the schema is not usable.
  static Result<std::shared_ptr<const JsonSchema>> compile(const nlohmann::ordered_json& schema);
  const SchemaNode& root() const { return *nodes_.front(); }

 private:
  const SchemaNode* add(const nlohmann::ordered_json& schema, int depth, std::string& error);
  std::vector<std::unique_ptr<SchemaNode>> nodes_;
};

}  // namespace hearth
