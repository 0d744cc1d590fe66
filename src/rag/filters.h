// Attributes of a vector-store file and the filters of vector-store search, as OpenAI defines
// them: attributes are up to 16 keys (at most 64 characters) with string (at most 512
// characters), number or boolean values; a filter is a comparison {type: eq|ne|gt|gte|lt|lte,
// key, value} or a compound {type: and|or, filters: [...]}. Pure functions: thread-safe.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/status.h"

namespace hearth::rag {

// kInvalidInput naming the offending key when `attributes` (an object, or null for none) breaks
// the limits above.
Status validate_attributes(const nlohmann::ordered_json& attributes);

struct Filter {
  enum class Op { kEq, kNe, kGt, kGte, kLt, kLte, kAnd, kOr } op = Op::kEq;
  std::string key;               // comparisons
  nlohmann::ordered_json value;  // comparisons: string, number or boolean
  std::vector<Filter> filters;   // and / or
};

// Parses and validates a filter (nesting at most 8 deep). kInvalidInput names what is wrong.
Result<Filter> parse_filter(const nlohmann::ordered_json& j);

// Whether a file with `attributes` passes. A comparison on a missing key, or between values of
// different types, is false (ne: true); gt/gte/lt/lte order numbers numerically and strings
// byte-wise, and are false for booleans.
bool filter_matches(const Filter& filter, const nlohmann::ordered_json& attributes);

}  // namespace hearth::rag
