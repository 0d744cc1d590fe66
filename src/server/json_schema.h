// response_format.json_schema for the API: compiles the client's schema for the sampler's JSON
// constraint (engine/sampler/json_schema.h), reporting an unusable one as a 400 naming the
// parameter. Thread-safe (no state).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "engine/sampler/json_schema.h"
#include "server/api_error.h"

namespace hearth::server {

ApiResult<std::shared_ptr<const JsonSchema>> compile_response_schema(
    const nlohmann::ordered_json& schema);

}  // namespace hearth::server
