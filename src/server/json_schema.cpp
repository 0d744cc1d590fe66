#include "server/json_schema.h"

namespace hearth::server {

ApiResult<std::shared_ptr<const JsonSchema>> compile_response_schema(
    const nlohmann::ordered_json& schema) {
  auto compiled = JsonSchema::compile(schema);
  if (!compiled) {
    return api_fail(invalid_request("response_format.json_schema: " + compiled.error().message,
                                    "response_format.json_schema"));
  }
  return std::move(*compiled);
}

}  // namespace hearth::server
