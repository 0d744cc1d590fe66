#include "engine/sampler/json_schema.h"

#include <algorithm>

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

// The string a union branch pins `key` to (`const`, or a one-value `enum`) when the branch
// also requires it; null otherwise.
const std::string* pinned_string(const nlohmann::ordered_json& branch, const std::string& key) {
  if (!branch.is_object()) return nullptr;
  auto props = branch.find("properties");
  auto req = branch.find("required");
  if (props == branch.end() || !props->is_object() || req == branch.end() || !req->is_array()) {
    return nullptr;
  }
  if (std::find(req->begin(), req->end(), key) == req->end()) return nullptr;
  auto sub = props->find(key);
  if (sub == props->end() || !sub->is_object()) return nullptr;
  if (auto c = sub->find("const"); c != sub->end() && c->is_string()) {
    return c->get_ptr<const std::string*>();
  }
  if (auto e = sub->find("enum");
      e != sub->end() && e->is_array() && e->size() == 1 && e->front().is_string()) {
    return e->front().get_ptr<const std::string*>();
  }
  return nullptr;
}

// The property that tells a union's branches apart: one every branch requires and pins to a
// string of its own. "" when there is none.
std::string discriminator_of(const nlohmann::ordered_json& branches) {
  if (!branches.is_array() || branches.empty() || !branches.front().is_object()) return "";
  auto props = branches.front().find("properties");
  if (props == branches.front().end() || !props->is_object()) return "";
  for (const auto& [key, sub] : props->items()) {
    (void)sub;
    std::vector<std::string> values;
    bool distinct = true;
    for (const auto& branch : branches) {
      const std::string* value = pinned_string(branch, key);
      if (!value || std::find(values.begin(), values.end(), *value) != values.end()) {
        distinct = false;
        break;
      }
      values.push_back(*value);
    }
    if (distinct) return key;
  }
  return "";
}

}  // namespace

const SchemaNode* SchemaNode::variant(std::string_view value) const {
  for (const auto& [key, node] : variants) {
    if (key == value) return node;
  }
  return nullptr;
}

const SchemaNode* SchemaNode::property(std::string_view name) const {
  for (const auto& [key, node] : properties) {
    if (key == name) return node;
  }
  return nullptr;
}

Result<std::shared_ptr<const JsonSchema>> JsonSchema::compile(const nlohmann::ordered_json& schema,
                                                              bool container_root) {
  auto compiled = std::make_shared<JsonSchema>();
  std::string error;
  compiled->add(schema, 0, error);
  if (!error.empty()) {
    return invalid_input(error);
  }
  const SchemaNode& root = compiled->root();
  if (!(root.types & (container_root ? kJsonObject | kJsonArray : kJsonObject))) {
    return invalid_input(container_root ? "the top level must be an object or an array"
                                        : "the top level must be an object");
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
    if (!schema.contains("properties") && add_union(node, *alt, depth, error)) continue;
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
  auto count = [&](const char* key, size_t& out) {
    auto n = schema.find(key);
    if (n != schema.end() && n->is_number_integer() && n->get<int64_t>() >= 0) {
      out = n->get<size_t>();
    }
  };
  count("minItems", node->min_items);
  count("maxItems", node->max_items);
  if (node->min_items > node->max_items) error = "minItems is larger than maxItems";
  if (node->types == 0) error = "no value satisfies the schema's types";
  return node;
}

bool JsonSchema::add_union(SchemaNode* node, const nlohmann::ordered_json& branches, int depth,
                           std::string& error) {
  const std::string key = discriminator_of(branches);
  if (key.empty()) return false;
  nodes_.push_back(std::make_unique<SchemaNode>());
  SchemaNode* tag = nodes_.back().get();
  tag->types = kJsonString;
  for (const auto& branch : branches) {
    const std::string value = raw_string(*pinned_string(branch, key));
    tag->string_enum.push_back(value);
    node->variants.emplace_back(value, add(branch, depth + 1, error));
  }
  node->types &= kJsonObject;
  node->closed = true;
  node->properties = {{key, tag}};
  node->required = {key};
  node->discriminator = key;
  return true;
}

}  // namespace hearth
