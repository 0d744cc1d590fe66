#include "server/openai_request.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "engine/sampler/json_schema.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxStopStrings = 16;
constexpr int64_t kMaxTopLogprobs = 20;

std::string type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

ApiError wrong_type(const std::string& param, const json& v, const std::string& want) {
  return invalid_request("'" + param + "' must be " + want + ", not " + type_name(v), param);
}

// Reads an optional number field in [lo, hi]; absent and null leave `out` unchanged.
std::optional<ApiError> read_number(const json& body, const char* param, double lo, double hi,
                                    float& out) {
  auto it = body.find(param);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return wrong_type(param, *it, "a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    return invalid_request("'" + std::string(param) + "' must be between " + json(lo).dump() +
                               " and " + json(hi).dump() + ", got " + it->dump(),
                           param);
  }
  out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> read_integer(const json& body, const char* param, int64_t lo, int64_t hi,
                                     std::optional<int64_t>& out) {
  auto it = body.find(param);
  if (it == body.end() || it->is_null()) return std::nullopt;
  // 5.0 is accepted as 5, as Python clients may send floats for integer fields.
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) {
      return wrong_type(param, *it, "an integer");
    }
  } else if (!it->is_number()) {
    return wrong_type(param, *it, "an integer");
  }
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi)) {
    return invalid_request("'" + std::string(param) + "' must be at most " + std::to_string(hi) +
                               ", got " + it->dump(),
                           param);
  }
  const auto v =
      it->is_number_float() ? static_cast<int64_t>(it->get<double>()) : it->get<int64_t>();
  if (v < lo || v > hi) {
    return invalid_request("'" + std::string(param) + "' must be between " + std::to_string(lo) +
                               " and " + std::to_string(hi) + ", got " + it->dump(),
                           param);
  }
  out = v;
  return std::nullopt;
}

std::optional<ApiError> read_bool(const json& body, const char* param, bool& out) {
  auto it = body.find(param);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return wrong_type(param, *it, "a boolean");
  out = it->get<bool>();
  return std::nullopt;
}

std::optional<ApiError> parse_common(const json& body, GenerationRequest& req) {
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return wrong_type("model", *it, "a string");
    req.model = it->get<std::string>();
  }
  if (auto e = read_bool(body, "stream", req.stream)) return e;
  if (auto e = read_bool(body, "ignore_eos", req.ignore_eos)) return e;
  if (auto it = body.find("speculative"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return wrong_type("speculative", *it, "a boolean");
    req.speculative = it->get<bool>();
  }
  if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("stream_options", *it, "an object");
    if (auto e = read_bool(*it, "include_usage", req.include_usage)) {
      e->param = "stream_options.include_usage";
      return e;
    }
  }

  constexpr int64_t kMaxTokensCap = 1 << 20;
  std::optional<int64_t> max_tokens;
  if (auto e = read_integer(body, "max_tokens", 1, kMaxTokensCap, max_tokens)) return e;
  if (auto e = read_integer(body, "max_completion_tokens", 1, kMaxTokensCap, max_tokens)) return e;
  if (max_tokens) req.max_tokens = static_cast<int32_t>(*max_tokens);

  SamplerParams& s = req.sampling;
  if (auto e = read_number(body, "temperature", 0.0, 2.0, s.temperature)) return e;
  if (auto e = read_number(body, "top_p", 0.0, 1.0, s.top_p)) return e;
  if (s.top_p <= 0.0f) return invalid_request("'top_p' must be greater than 0", "top_p");
  if (auto e = read_number(body, "min_p", 0.0, 1.0, s.min_p)) return e;
  if (auto e = read_number(body, "presence_penalty", -2.0, 2.0, s.presence_penalty)) return e;
  if (auto e = read_number(body, "frequency_penalty", -2.0, 2.0, s.frequency_penalty)) return e;
  if (auto e = read_number(body, "repeat_penalty", 0.01, 10.0, s.repeat_penalty)) return e;
  std::optional<int64_t> top_k, seed, n;
  if (auto e = read_integer(body, "top_k", 0, std::numeric_limits<int32_t>::max(), top_k)) return e;
  if (top_k) s.top_k = static_cast<int32_t>(*top_k);
  if (auto e = read_integer(body, "seed", std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), seed)) {
    return e;
  }
  if (seed) s.seed = static_cast<uint64_t>(*seed);
  if (auto e = read_integer(body, "n", 1, 128, n)) return e;
  if (n && *n != 1) return invalid_request("only n=1 is supported", "n");

  if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      req.stop.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > kMaxStopStrings) {
        return invalid_request(
            "'stop' may hold at most " + std::to_string(kMaxStopStrings) + " strings", "stop");
      }
      for (const auto& item : *it) {
        if (!item.is_string()) return wrong_type("stop", item, "a string or an array of strings");
        req.stop.push_back(item.get<std::string>());
      }
    } else {
      return wrong_type("stop", *it, "a string or an array of strings");
    }
  }

  if (auto it = body.find("logit_bias"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("logit_bias", *it, "an object");
    for (const auto& [key, value] : it->items()) {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(key, &used);
        if (used != key.size()) id = -1;
      } catch (...) {
        id = -1;
      }
      if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
        return invalid_request("'logit_bias' keys must be token ids, got '" + key + "'",
                               "logit_bias");
      }
      if (!value.is_number() || !std::isfinite(value.get<double>()) ||
          std::fabs(value.get<double>()) > 100.0) {
        return invalid_request("'logit_bias' values must be numbers between -100 and 100",
                               "logit_bias");
      }
      s.logit_bias[static_cast<int32_t>(id)] = value.get<float>();
    }
  }

  if (auto it = body.find("response_format"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("response_format", *it, "an object");
    auto type = it->find("type");
    if (type == it->end() || !type->is_string()) {
      return invalid_request("'response_format.type' must be a string", "response_format.type");
    }
    const std::string t = type->get<std::string>();
    if (t == "text") {
      req.response_format = ResponseFormat::kText;
    } else if (t == "json_object") {
      req.response_format = ResponseFormat::kJsonObject;
    } else if (t == "json_schema") {
      req.response_format = ResponseFormat::kJsonSchema;
      auto schema = it->find("json_schema");
      if (schema == it->end() || !schema->is_object()) {
        return invalid_request("'response_format.json_schema' must be an object",
                               "response_format.json_schema");
      }
      auto inner = schema->find("schema");
      req.json_schema = inner != schema->end() ? *inner : json::object();
      if (!req.json_schema.is_object() && !req.json_schema.is_boolean()) {
        return invalid_request("'response_format.json_schema.schema' must be an object",
                               "response_format.json_schema.schema");
      }
    } else {
      return invalid_request(
          "'response_format.type' must be 'text', 'json_object' or "
          "'json_schema', got '" +
              t + "'",
          "response_format.type");
    }
  }
  return std::nullopt;
}

// Message content may be a string, null, or an array of parts; text parts are joined.
std::optional<ApiError> normalize_content(json& message, size_t index) {
  const std::string param = "messages[" + std::to_string(index) + "].content";
  auto it = message.find("content");
  if (it == message.end() || it->is_null()) {
    message["content"] = "";
    return std::nullopt;
  }
  if (it->is_string()) return std::nullopt;
  if (!it->is_array()) return wrong_type(param, *it, "a string or an array of content parts");
  std::string text;
  for (const auto& part : *it) {
    if (!part.is_object()) return wrong_type(param, part, "an array of content parts");
    const std::string type = part.value("type", "");
    if (type != "text") {
      return invalid_request("content parts of type '" + type +
                                 "' are not supported; only "
                                 "'text' parts are",
                             param);
    }
    auto t = part.find("text");
    if (t == part.end() || !t->is_string())
      return invalid_request("a text part needs 'text'", param);
    text += t->get<std::string>();
  }
  *it = text;
  return std::nullopt;
}

// tools: [{"type":"function","function":{"name", "description"?, "parameters"?}}]. The
// parameters must be a schema the sampler can compile, since tool_choice required decodes by it.
std::optional<ApiError> parse_tools(const json& tools, ChatRequest& req) {
  if (!tools.is_array()) return wrong_type("tools", tools, "an array");
  std::set<std::string> seen;
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string param = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return wrong_type(param, tool, "an object");
    auto type = tool.find("type");
    if (type != tool.end() && (!type->is_string() || *type != "function")) {
      return invalid_request("'" + param + ".type' must be 'function'", param + ".type");
    }
    auto function = tool.find("function");
    if (function == tool.end() || !function->is_object()) {
      return invalid_request("'" + param + ".function' must be an object", param + ".function");
    }
    auto name = function->find("name");
    if (name == function->end() || !name->is_string() || name->get<std::string>().empty()) {
      return invalid_request("'" + param + ".function.name' must be a non-empty string",
                             param + ".function.name");
    }
    const std::string n = name->get<std::string>();
    if (!seen.insert(n).second) {
      return invalid_request("two tools are named '" + n + "'", param + ".function.name");
    }
    if (auto p = function->find("parameters"); p != function->end() && !p->is_null()) {
      if (!p->is_object()) {
        return wrong_type(param + ".function.parameters", *p, "a JSON schema object");
      }
      auto compiled = JsonSchema::compile(*p);
      if (!compiled) {
        return invalid_request("'" + param + ".function.parameters' is not a usable JSON schema: " +
                                   compiled.error().message,
                               param + ".function.parameters");
      }
    }
    req.tool_names.push_back(n);
  }
  if (!req.tool_names.empty()) req.tools = tools;
  return std::nullopt;
}

std::optional<ApiError> parse_tool_choice(const json& body, ChatRequest& req) {
  auto it = body.find("tool_choice");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) {
    const std::string c = it->get<std::string>();
    if (c == "auto") {
      req.tool_choice = ToolChoice::kAuto;
    } else if (c == "none") {
      req.tool_choice = ToolChoice::kNone;
    } else if (c == "required") {
      req.tool_choice = ToolChoice::kRequired;
    } else {
      return invalid_request(
          "'tool_choice' must be 'auto', 'none', 'required' or a function, got '" + c + "'",
          "tool_choice");
    }
  } else if (it->is_object()) {
    auto type = it->find("type");
    auto function = it->find("function");
    if (type == it->end() || *type != "function" || function == it->end() ||
        !function->is_object()) {
      return invalid_request(
          "'tool_choice' must be {\"type\":\"function\",\"function\":{\"name\":...}}",
          "tool_choice");
    }
    auto name = function->find("name");
    if (name == function->end() || !name->is_string()) {
      return invalid_request("'tool_choice.function.name' must be a string",
                             "tool_choice.function.name");
    }
    req.tool_choice = ToolChoice::kFunction;
    req.tool_choice_name = name->get<std::string>();
    if (std::find(req.tool_names.begin(), req.tool_names.end(), req.tool_choice_name) ==
        req.tool_names.end()) {
      return invalid_request("'tool_choice.function.name' names '" + req.tool_choice_name +
                                 "', which is not among 'tools'",
                             "tool_choice.function.name");
    }
  } else {
    return wrong_type("tool_choice", *it, "a string or an object");
  }
  if (req.tool_choice == ToolChoice::kRequired && req.tool_names.empty()) {
    return invalid_request("'tool_choice' is 'required' but no 'tools' were given", "tool_choice");
  }
  return std::nullopt;
}

// An assistant message's tool_calls: arguments arrive as a JSON string (OpenAI's shape) and
// are decoded to an object, which is what chat templates render with tojson. The ids are
// collected so tool messages can be matched to them.
std::optional<ApiError> normalize_tool_calls(json& message, const std::string& param,
                                             std::set<std::string>& call_ids) {
  auto it = message.find("tool_calls");
  if (it == message.end()) return std::nullopt;
  if (it->is_null()) {
    message.erase("tool_calls");
    return std::nullopt;
  }
  if (!it->is_array()) return wrong_type(param + ".tool_calls", *it, "an array");
  for (size_t k = 0; k < it->size(); ++k) {
    json& call = (*it)[k];
    const std::string cparam = param + ".tool_calls[" + std::to_string(k) + "]";
    if (!call.is_object()) return wrong_type(cparam, call, "an object");
    if (auto id = call.find("id"); id != call.end() && id->is_string()) {
      call_ids.insert(id->get<std::string>());
    }
    auto function = call.find("function");
    if (function == call.end() || !function->is_object()) {
      return invalid_request("'" + cparam + ".function' must be an object", cparam + ".function");
    }
    auto name = function->find("name");
    if (name == function->end() || !name->is_string()) {
      return invalid_request("'" + cparam + ".function.name' must be a string",
                             cparam + ".function.name");
    }
    if (auto args = function->find("arguments"); args != function->end() && args->is_string()) {
      json decoded = json::parse(args->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (!decoded.is_discarded() && decoded.is_object()) *args = std::move(decoded);
    }
  }
  return std::nullopt;
}

}  // namespace

json tool_call_union_schema(const json& tools, const std::vector<std::string>& names,
                            const std::string& arguments_key) {
  auto parameters_of = [&](const std::string& name) {
    json arguments = {{"type", "object"}};
    if (!tools.is_array()) return arguments;
    for (const auto& tool : tools) {
      const json& f = tool["function"];
      if (f["name"] != name) continue;
      if (auto p = f.find("parameters"); p != f.end() && p->is_object() && !p->empty()) {
        arguments = *p;
        if (!arguments.contains("type")) arguments["type"] = "object";
      }
    }
    return arguments;
  };
  auto call = [&](const json& name_schema, json arguments) {
    return json{{"type", "object"},
                {"properties", {{"name", name_schema}, {arguments_key, std::move(arguments)}}},
                {"required", json::array({"name", arguments_key})}};
  };
  if (names.size() == 1) {
    return call({{"type", "string"}, {"enum", json::array({names[0]})}}, parameters_of(names[0]));
  }
  // One branch per function, told apart by the name: the sampler's JSON automaton writes the
  // name first and then that function's own arguments (json_schema.h, discriminated unions).
  json branches = json::array();
  for (const auto& name : names) {
    branches.push_back(call({{"type", "string"}, {"const", name}}, parameters_of(name)));
  }
  return {{"type", "object"}, {"oneOf", std::move(branches)}};
}

json tool_call_schema(const ChatRequest& r) {
  const std::vector<std::string> allowed = r.tool_choice == ToolChoice::kFunction
                                               ? std::vector<std::string>{r.tool_choice_name}
                                               : r.tool_names;
  return tool_call_union_schema(r.tools, allowed, "arguments");
}

SamplerParams openai_default_sampling() {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = std::random_device{}();
  return p;
}

ApiResult<json> parse_json_body(const std::string& body) {
  if (body.empty()) return api_fail(invalid_json("the body is empty"));
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return api_fail(invalid_json("it is not valid JSON"));
  if (!parsed.is_object()) return api_fail(invalid_json("the body must be a JSON object"));
  return parsed;
}

ApiResult<ChatRequest> parse_chat_request(const json& body) {
  ChatRequest req;
  req.sampling = openai_default_sampling();
  if (auto e = parse_common(body, req)) return api_fail(*e);
  auto messages = body.find("messages");
  if (messages == body.end())
    return api_fail(invalid_request("'messages' is required", "messages"));
  if (!messages->is_array()) return api_fail(wrong_type("messages", *messages, "an array"));
  if (messages->empty()) {
    return api_fail(invalid_request("'messages' must contain at least one message", "messages"));
  }
  req.messages = *messages;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    json& m = req.messages[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return api_fail(wrong_type(param, m, "an object"));
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) {
      return api_fail(invalid_request("'" + param + ".role' must be a string", param + ".role"));
    }
    const std::string r = role->get<std::string>();
    if (r != "system" && r != "user" && r != "assistant" && r != "tool" && r != "developer" &&
        r != "function") {
      return api_fail(invalid_request("'" + param +
                                          ".role' must be one of system, developer, "
                                          "user, assistant, tool; got '" +
                                          r + "'",
                                      param + ".role"));
    }
    // An assistant turn that only called tools keeps content null: templates such as
    // DeepSeek-R1's render the calls only when `content is none`.
    const bool calls_only = r == "assistant" && m.contains("tool_calls") &&
                            m["tool_calls"].is_array() && !m["tool_calls"].empty() &&
                            (!m.contains("content") || m["content"].is_null());
    if (calls_only) {
      m["content"] = nullptr;
    } else if (auto e = normalize_content(m, i)) {
      return api_fail(*e);
    }
  }
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (auto e = parse_tools(*it, req)) return api_fail(*e);
  }
  if (auto e = parse_tool_choice(body, req)) return api_fail(*e);
  if (auto e = read_bool(body, "parallel_tool_calls", req.parallel_tool_calls)) return api_fail(*e);
  bool logprobs = false;
  if (auto e = read_bool(body, "logprobs", logprobs)) return api_fail(*e);
  std::optional<int64_t> top_logprobs;
  if (auto e = read_integer(body, "top_logprobs", 0, kMaxTopLogprobs, top_logprobs)) {
    return api_fail(*e);
  }
  if (top_logprobs && !logprobs) {
    return api_fail(invalid_request("'top_logprobs' needs 'logprobs': true", "top_logprobs"));
  }
  if (logprobs) req.top_logprobs = static_cast<int>(top_logprobs.value_or(0));
  // Tool results must answer a call the conversation made. A tool message without an id is
  // accepted: clients of other APIs (Ollama's) do not send one.
  std::set<std::string> call_ids;
  for (size_t i = 0; i < req.messages.size(); ++i) {
    json& m = req.messages[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (auto e = normalize_tool_calls(m, param, call_ids)) return api_fail(*e);
    if (m["role"] != "tool") continue;
    auto id = m.find("tool_call_id");
    if (id == m.end() || id->is_null()) continue;
    if (!id->is_string()) return api_fail(wrong_type(param + ".tool_call_id", *id, "a string"));
    if (!call_ids.contains(id->get<std::string>())) {
      return api_fail(invalid_request("'" + param + ".tool_call_id' is '" + id->get<std::string>() +
                                          "', which no earlier assistant tool call has",
                                      param + ".tool_call_id"));
    }
  }
  // llama-server's and vLLM's extension: variables handed to the chat template, such as
  // Qwen3's enable_thinking.
  if (auto it = body.find("chat_template_kwargs"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return api_fail(wrong_type("chat_template_kwargs", *it, "an object"));
    req.chat_template_kwargs = *it;
  }
  return req;
}

ApiResult<CompletionRequest> parse_completion_request(const json& body) {
  CompletionRequest req;
  req.sampling = openai_default_sampling();
  if (auto e = parse_common(body, req)) return api_fail(*e);
  if (auto e = read_bool(body, "echo", req.echo)) return api_fail(*e);
  // Completions' logprobs is the number of alternatives per token (0: only the chosen one).
  std::optional<int64_t> logprobs;
  if (auto e = read_integer(body, "logprobs", 0, kMaxTopLogprobs, logprobs)) return api_fail(*e);
  if (logprobs) req.top_logprobs = static_cast<int>(*logprobs);
  auto prompt = body.find("prompt");
  if (prompt == body.end() || prompt->is_null()) {
    return api_fail(invalid_request("'prompt' is required", "prompt"));
  }
  if (prompt->is_string()) {
    req.prompt = prompt->get<std::string>();
  } else if (prompt->is_array() && prompt->size() == 1 && (*prompt)[0].is_string()) {
    req.prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_array() && !prompt->empty() && (*prompt)[0].is_number_integer()) {
    for (const auto& id : *prompt) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
        return api_fail(
            invalid_request("'prompt' token ids must be non-negative integers", "prompt"));
      }
      req.prompt_tokens.push_back(id.get<int32_t>());
    }
  } else {
    return api_fail(
        invalid_request("'prompt' must be a string, a one-string array or an array "
                        "of token ids",
                        "prompt"));
  }
  if (req.prompt.empty() && req.prompt_tokens.empty()) {
    return api_fail(invalid_request("'prompt' is empty", "prompt"));
  }
  return req;
}

ApiResult<EmbeddingRequest> parse_embedding_request(const json& body) {
  EmbeddingRequest req;
  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return api_fail(wrong_type("model", *it, "a string"));
    req.model = it->get<std::string>();
  }
  auto input = body.find("input");
  if (input == body.end() || input->is_null()) {
    return api_fail(invalid_request("'input' is required", "input"));
  }
  if (input->is_string()) {
    req.inputs.push_back(input->get<std::string>());
  } else if (input->is_array() && !input->empty()) {
    for (const auto& item : *input) {
      if (!item.is_string())
        return api_fail(wrong_type("input", item, "a string or an array of strings"));
      req.inputs.push_back(item.get<std::string>());
    }
  } else {
    return api_fail(
        invalid_request("'input' must be a string or a non-empty array of strings", "input"));
  }
  for (const auto& s : req.inputs) {
    if (s.empty()) return api_fail(invalid_request("'input' strings must not be empty", "input"));
  }
  if (auto f = body.find("encoding_format"); f != body.end() && !f->is_null()) {
    if (!f->is_string() || (*f != "float" && *f != "base64")) {
      return api_fail(
          invalid_request("'encoding_format' must be 'float' or 'base64'", "encoding_format"));
    }
    req.base64 = *f == "base64";
  }
  return req;
}

}  // namespace hearth::server
