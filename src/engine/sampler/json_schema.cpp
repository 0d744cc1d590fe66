#include "engine/sampler/json_schema.h"

namespace hearth {
namespace {

constexpr int kMaxSchemaDepth = 32;

uint8_t type_bit(const std::string& name) {
  if (name == "object") return kJsonObject;
  if (name == "array") return kJsonArray;
  if (name == "string") return kJsonString;
  if (name == "number") return kJsonNumber | kJsonInteger;
  if (name == "integer") return kJsonInteger;
  if (name == "boolean") return kJsonBoolean;
  if (name == "null") return kJsonNull;
  return 0;
}

// The raw JSON text of a string value without its quotes ("a\"b" -> a\"b).
std::string raw_string(const std::string& value) {
  const std::string quoted = nlohmann::json(value).dump();
  return quoted.substr(1, quoted.size() - 2);
}

}  // namespace

const SchemaNode* SchemaNode::property(std::string_view name) const {
  for (const auto& [key, node] : properties) {
    if (key == name) return node;
  }
  return nullptr;
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(
    const nlohmann::ordered_json& schema) {
  auto compiled = std::make_shared<JsonSchema>();
  std::string error;
  compiled->add(schema, 0, error);
  if (!error.empty()) {
    return invalid_input(error);
  }
  const SchemaNode& root = compiled->root();
  if (!(root.types & kJsonObject)) {
    return invalid_input("the top level must be an object");
  }
  return std::shared_ptr<const JsonSchema>(std::move(compiled));
}

const SchemaNode* JsonSchema::add(const nlohmann::ordered_json& schema, int depth,
                                  std::string& error) {
  nodes_.push_back(std::make_unique<SchemaNode>());
  SchemaNode* node = nodes_.back().get();
  if (depth > kMaxSchemaDepth) {
    error = "nested too deeply";
    return node;
  }
  if (schema.is_boolean() || !schema.is_object()) return node;  // true / {} : anything

  if (auto t = schema.find("type"); t != schema.end()) {
    uint8_t bits = 0;
    if (t->is_string()) bits = type_bit(t->get<std::string>());
    if (t->is_array()) {
      for (const auto& item : *t) {
        if (item.is_string()) bits |= type_bit(item.get<std::string>());
      }
    }
    if (bits == 0) {
      error = "unknown type " + t->dump();
      return node;
    }
    node->types = bits;
  }
  for (const char* key : {"anyOf", "oneOf"}) {
    auto alt = schema.find(key);
    if (alt == schema.end() || !alt->is_array()) continue;
    // A union of simple types narrows the allowed types; richer unions stay unconstrained.
    uint8_t bits = 0;
    for (const auto& branch : *alt) {
      const SchemaNode* b = add(branch, depth + 1, error);
      bits |= b->types;
      if (!b->properties.empty() || b->items || !b->string_enum.empty()) bits = kJsonAny;
    }
    node->types &= bits;
  }
  auto add_enum = [&](const nlohmann::ordered_json& value) {
    if (value.is_string()) node->string_enum.push_back(raw_string(value.get<std::string>()));
  };
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool all_strings = !e->empty();
    for (const auto& v : *e) all_strings = all_strings && v.is_string();
    if (all_strings) {
      for (const auto& v : *e) add_enum(v);
      node->types &= kJsonString;
    }
  }
  if (auto c = schema.find("const"); c != schema.end() && c->is_string()) {
    add_enum(*c);
    node->types &= kJsonString;
  }
  if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
    for (const auto& [name, sub] : props->items()) {
      node->properties.emplace_back(name, add(sub, depth + 1, error));
    }
    node->closed = true;
    if (auto extra = schema.find("additionalProperties"); extra != schema.end()) {
      node->closed = !(extra->is_boolean() && extra->get<bool>()) && !extra->is_object();
    }
  }
  if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
    for (const auto& name : *req) {
      if (!name.is_string()) continue;
      if (node->closed && !node->property(name.get<std::string>())) {
        error = "required property '" + name.get<std::string>() + "' is not in properties";
        return node;
      }
      node->required.push_back(name.get<std::string>());
    }
  }
  if (auto items = schema.find("items"); items != schema.end()) {
    node->items = add(*items, depth + 1, error);
  }
  if (node->types == 0) error = "no value satisfies the schema's types";
  return node;
}

}  // namespace hearth
