#include "rag/filters.h"

namespace hearth::rag {
namespace {

using json = nlohmann::ordered_json;

bool scalar(const json& v) {
  return v.is_string() || v.is_number() || v.is_boolean();
}

Result<Filter> parse_at(const json& j, int depth, const std::string& where) {
  if (depth > 8) return invalid_input(where + ": filters nest more than 8 deep");
  if (!j.is_object()) return invalid_input(where + " must be an object");
  if (!j.contains("type") || !j["type"].is_string())
    return invalid_input(where + ".type must be one of eq, ne, gt, gte, lt, lte, and, or");
  const std::string type = j["type"].get<std::string>();
  Filter f;
  if (type == "and" || type == "or") {
    f.op = type == "and" ? Filter::Op::kAnd : Filter::Op::kOr;
    if (!j.contains("filters") || !j["filters"].is_array() || j["filters"].empty())
      return invalid_input(where + ".filters must be a non-empty array");
    for (size_t i = 0; i < j["filters"].size(); ++i) {
      auto child =
          parse_at(j["filters"][i], depth + 1, where + ".filters[" + std::to_string(i) + "]");
      if (!child) return std::unexpected(child.error());
      f.filters.push_back(std::move(*child));
    }
    return f;
  }
  static const std::pair<const char*, Filter::Op> kOps[] = {
      {"eq", Filter::Op::kEq},   {"ne", Filter::Op::kNe}, {"gt", Filter::Op::kGt},
      {"gte", Filter::Op::kGte}, {"lt", Filter::Op::kLt}, {"lte", Filter::Op::kLte}};
  bool known = false;
  for (const auto& [name, op] : kOps)
    if (type == name) f.op = op, known = true;
  if (!known)
    return invalid_input(where + ".type '" + type +
                         "' is not one of eq, ne, gt, gte, lt, lte, and, or");
  if (!j.contains("key") || !j["key"].is_string() || j["key"].get<std::string>().empty())
    return invalid_input(where + ".key must be a non-empty string");
  if (!j.contains("value") || !scalar(j["value"]))
    return invalid_input(where + ".value must be a string, number or boolean");
  f.key = j["key"].get<std::string>();
  f.value = j["value"];
  return f;
}

// <0, 0, >0; nullopt when the two cannot be ordered.
std::optional<int> compare(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_boolean() && b.is_boolean()) return a.get<bool>() == b.get<bool>() ? 0 : 1;
  return std::nullopt;
}

}  // namespace

Status validate_attributes(const json& attributes) {
  if (attributes.is_null()) return ok();
  if (!attributes.is_object()) return invalid_input("attributes must be an object");
  if (attributes.size() > 16) return invalid_input("attributes may hold at most 16 keys");
  for (const auto& [key, value] : attributes.items()) {
    if (key.empty() || key.size() > 64)
      return invalid_input("attribute key '" + key + "' must be 1 to 64 characters");
    if (!scalar(value))
      return invalid_input("attribute '" + key + "' must be a string, number or boolean");
    if (value.is_string() && value.get_ref<const std::string&>().size() > 512)
      return invalid_input("attribute '" + key + "' is longer than 512 characters");
  }
  return ok();
}

Result<Filter> parse_filter(const json& j) {
  return parse_at(j, 0, "filters");
}

bool filter_matches(const Filter& f, const json& attributes) {
  switch (f.op) {
    case Filter::Op::kAnd:
      for (const Filter& c : f.filters)
        if (!filter_matches(c, attributes)) return false;
      return true;
    case Filter::Op::kOr:
      for (const Filter& c : f.filters)
        if (filter_matches(c, attributes)) return true;
      return false;
    default: break;
  }
  const bool present = attributes.is_object() && attributes.contains(f.key);
  if (!present) return f.op == Filter::Op::kNe;
  const json& have = attributes[f.key];
  const auto c = compare(have, f.value);
  if (!c) return f.op == Filter::Op::kNe;
  const bool ordered = !have.is_boolean();
  switch (f.op) {
    case Filter::Op::kEq: return *c == 0;
    case Filter::Op::kNe: return *c != 0;
    case Filter::Op::kGt: return ordered && *c > 0;
    case Filter::Op::kGte: return ordered && *c >= 0;
    case Filter::Op::kLt: return ordered && *c < 0;
    case Filter::Op::kLte: return ordered && *c <= 0;
    default: return false;
  }
}

}  // namespace hearth::rag
