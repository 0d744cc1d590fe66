#include "server/responses_translate.h"

#include <utility>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

std::string type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

ApiError wrong_type(const std::string& param, const json& v, const std::string& want) {
  return invalid_request("'" + param + "' must be " + want + ", got " + type_name(v), param);
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Text of a content value: a string, or an array of text parts (input_text, output_text,
// text; a refusal counts as its text). Other parts (images, files) are not supported.
ApiResult<std::string> content_text(const json& content, const std::string& param) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return std::string();
  if (!content.is_array()) return api_fail(wrong_type(param, content, "a string or an array"));
  std::string text;
  for (size_t j = 0; j < content.size(); ++j) {
    const json& part = content[j];
    const std::string part_param = param + "[" + std::to_string(j) + "]";
    if (!part.is_object()) return api_fail(wrong_type(part_param, part, "an object"));
    auto type = part.find("type");
    if (type == part.end() || !type->is_string()) {
      return api_fail(
          invalid_request("'" + part_param + ".type' must be a string", part_param + ".type"));
    }
    const std::string t = type->get<std::string>();
    const char* field = nullptr;
    if (t == "input_text" || t == "output_text" || t == "text") field = "text";
    if (t == "refusal") field = "refusal";
    if (!field) {
      return api_fail(
          invalid_request("'" + part_param + ".type' '" + t + "' is not supported; use input_text",
                          part_param + ".type"));
    }
    auto value = part.find(field);
    if (value == part.end() || !value->is_string()) {
      return api_fail(invalid_request("'" + part_param + "." + field + "' must be a string",
                                      part_param + "." + field));
    }
    text += value->get<std::string>();
  }
  return text;
}

ApiResult<std::string> required_string(const json& item, const char* field,
                                       const std::string& param) {
  auto it = item.find(field);
  if (it == item.end() || !it->is_string()) {
    return api_fail(
        invalid_request("'" + param + "." + field + "' must be a string", param + "." + field));
  }
  return it->get<std::string>();
}

ApiResult<json> convert_tools(const json& tools) {
  json chat = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& tool = tools[i];
    const std::string param = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) return api_fail(wrong_type(param, tool, "an object"));
    auto type = tool.find("type");
    if (type == tool.end() || !type->is_string()) {
      return api_fail(invalid_request("'" + param + ".type' must be a string", param + ".type"));
    }
    if (*type != "function") {
      return api_fail(invalid_request("'" + param + ".type' '" + type->get<std::string>() +
                                          "' is not supported; only function tools are",
                                      param + ".type"));
    }
    auto name = required_string(tool, "name", param);
    if (!name) return api_fail(name.error());
    json function = {{"name", *name}};
    if (auto d = tool.find("description"); d != tool.end() && !d->is_null()) {
      if (!d->is_string()) return api_fail(wrong_type(param + ".description", *d, "a string"));
      function["description"] = *d;
    }
    if (auto p = tool.find("parameters"); p != tool.end() && !p->is_null()) {
      if (!p->is_object()) return api_fail(wrong_type(param + ".parameters", *p, "an object"));
      function["parameters"] = *p;
    }
    if (auto s = tool.find("strict"); s != tool.end() && s->is_boolean()) function["strict"] = *s;
    chat.push_back({{"type", "function"}, {"function", std::move(function)}});
  }
  return chat;
}

ApiResult<json> convert_text_format(const json& text) {
  if (!text.is_object()) return api_fail(wrong_type("text", text, "an object"));
  auto format = text.find("format");
  if (format == text.end() || format->is_null()) return json(nullptr);
  if (!format->is_object()) return api_fail(wrong_type("text.format", *format, "an object"));
  auto type = format->find("type");
  if (type == format->end() || !type->is_string()) {
    return api_fail(invalid_request("'text.format.type' must be a string", "text.format.type"));
  }
  if (*type == "text") return json(nullptr);
  if (*type == "json_object") return json{{"type", "json_object"}};
  if (*type == "json_schema") {
    auto schema = format->find("schema");
    if (schema == format->end() || !schema->is_object()) {
      return api_fail(
          invalid_request("'text.format.schema' must be an object", "text.format.schema"));
    }
    json inner = {{"name", format->value("name", std::string("response"))}, {"schema", *schema}};
    if (auto s = format->find("strict"); s != format->end() && s->is_boolean())
      inner["strict"] = *s;
    return json{{"type", "json_schema"}, {"json_schema", std::move(inner)}};
  }
  return api_fail(
      invalid_request("'text.format.type' must be text, json_object or json_schema; "
                      "got '" +
                          type->get<std::string>() + "'",
                      "text.format.type"));
}

ApiResult<json> validate_tool_choice(const json& choice) {
  if (choice.is_string()) {
    if (choice == "auto" || choice == "none" || choice == "required") return choice;
    return api_fail(
        invalid_request("'tool_choice' must be auto, none, required or "
                        "{\"type\":\"function\",\"name\":...}",
                        "tool_choice"));
  }
  if (!choice.is_object())
    return api_fail(wrong_type("tool_choice", choice, "a string or an object"));
  if (choice.value("type", std::string()) != "function") {
    return api_fail(invalid_request("'tool_choice.type' must be function", "tool_choice.type"));
  }
  if (auto name = required_string(choice, "name", "tool_choice"); !name) {
    return api_fail(name.error());
  }
  return choice;
}

json chat_tool_choice(const json& choice) {
  if (choice.is_object()) {
    return {{"type", "function"}, {"function", {{"name", choice["name"]}}}};
  }
  return choice;
}

}  // namespace

ApiResult<json> items_to_chat_messages(const json& items, const std::string& param) {
  json messages = json::array();
  if (items.is_string()) {
    messages.push_back({{"role", "user"}, {"content", items}});
    return messages;
  }
  if (!items.is_array()) return api_fail(wrong_type(param, items, "a string or an array"));
  for (size_t i = 0; i < items.size(); ++i) {
    const json& item = items[i];
    const std::string item_param = param + "[" + std::to_string(i) + "]";
    if (!item.is_object()) return api_fail(wrong_type(item_param, item, "an object"));
    std::string type = "message";  // EasyInputMessage {role, content} has no type
    if (auto t = item.find("type"); t != item.end()) {
      if (!t->is_string()) return api_fail(wrong_type(item_param + ".type", *t, "a string"));
      type = t->get<std::string>();
    }
    if (type == "message") {
      auto role = required_string(item, "role", item_param);
      if (!role) return api_fail(role.error());
      if (*role != "user" && *role != "assistant" && *role != "system" && *role != "developer") {
        return api_fail(invalid_request("'" + item_param +
                                            ".role' must be user, assistant, system or "
                                            "developer; got '" +
                                            *role + "'",
                                        item_param + ".role"));
      }
      auto content = item.find("content");
      if (content == item.end()) {
        return api_fail(
            invalid_request("'" + item_param + ".content' is required", item_param + ".content"));
      }
      auto text = content_text(*content, item_param + ".content");
      if (!text) return api_fail(text.error());
      messages.push_back({{"role", *role}, {"content", *text}});
    } else if (type == "function_call") {
      auto call_id = required_string(item, "call_id", item_param);
      if (!call_id) return api_fail(call_id.error());
      auto name = required_string(item, "name", item_param);
      if (!name) return api_fail(name.error());
      auto arguments = required_string(item, "arguments", item_param);
      if (!arguments) return api_fail(arguments.error());
      json call = {{"id", *call_id},
                   {"type", "function"},
                   {"function", {{"name", *name}, {"arguments", *arguments}}}};
      // Text and calls of one assistant turn are one chat message, as chat templates expect.
      if (!messages.empty() && messages.back()["role"] == "assistant") {
        json& last = messages.back();
        if (!last.contains("tool_calls")) last["tool_calls"] = json::array();
        last["tool_calls"].push_back(std::move(call));
      } else {
        messages.push_back(
            {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}});
      }
    } else if (type == "function_call_output") {
      auto call_id = required_string(item, "call_id", item_param);
      if (!call_id) return api_fail(call_id.error());
      auto output = item.find("output");
      if (output == item.end()) {
        return api_fail(
            invalid_request("'" + item_param + ".output' is required", item_param + ".output"));
      }
      auto text = content_text(*output, item_param + ".output");
      if (!text) return api_fail(text.error());
      messages.push_back({{"role", "tool"}, {"tool_call_id", *call_id}, {"content", *text}});
    } else if (type == "reasoning") {
      // A reasoning item replayed from an earlier output: chat templates drop past reasoning.
      continue;
    } else {
      return api_fail(invalid_request("'" + item_param + ".type' '" + type +
                                          "' is not supported; use message, function_call or "
                                          "function_call_output",
                                      item_param + ".type"));
    }
  }
  return messages;
}

ApiResult<ResponsesRequest> parse_responses_request(const json& body) {
  ResponsesRequest req;
  req.tools = json::array();
  req.tool_choice = "auto";
  req.text = {{"format", {{"type", "text"}}}};
  req.metadata = json::object();

  if (auto it = body.find("model"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return api_fail(wrong_type("model", *it, "a string"));
    req.model = it->get<std::string>();
  }
  auto input = body.find("input");
  if (input == body.end() || input->is_null()) {
    return api_fail(invalid_request("'input' is required", "input"));
  }
  auto messages = items_to_chat_messages(*input, "input");
  if (!messages) return api_fail(messages.error());
  req.input = std::move(*messages);

  if (auto it = body.find("instructions"); it != body.end() && !it->is_null()) {
    if (!it->is_string()) return api_fail(wrong_type("instructions", *it, "a string"));
    req.instructions = it->get<std::string>();
  }
  if (auto it = body.find("max_output_tokens"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      return api_fail(
          invalid_request("'max_output_tokens' must be an integer >= 1", "max_output_tokens"));
    }
    req.max_output_tokens = it->get<int64_t>();
  }
  for (const char* field : {"temperature", "top_p"}) {
    if (auto it = body.find(field); it != body.end() && !it->is_null()) {
      if (!it->is_number()) return api_fail(wrong_type(field, *it, "a number"));
      (std::string(field) == "temperature" ? req.temperature : req.top_p) = *it;
    }
  }
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return api_fail(wrong_type("tools", *it, "an array"));
    auto chat = convert_tools(*it);
    if (!chat) return api_fail(chat.error());
    req.tools = *it;
    if (!chat->empty()) req.chat_tools = std::move(*chat);
  }
  if (auto it = body.find("tool_choice"); it != body.end() && !it->is_null()) {
    auto choice = validate_tool_choice(*it);
    if (!choice) return api_fail(choice.error());
    req.tool_choice = std::move(*choice);
  }
  if (auto it = body.find("text"); it != body.end() && !it->is_null()) {
    auto format = convert_text_format(*it);
    if (!format) return api_fail(format.error());
    req.response_format = std::move(*format);
    if (it->contains("format") && !(*it)["format"].is_null()) req.text = *it;
  }
  for (const char* field : {"stream", "store"}) {
    if (auto it = body.find(field); it != body.end() && !it->is_null()) {
      if (!it->is_boolean()) return api_fail(wrong_type(field, *it, "a boolean"));
      (std::string(field) == "stream" ? req.stream : req.store) = it->get<bool>();
    }
  }
  if (auto it = body.find("previous_response_id"); it != body.end() && !it->is_null()) {
    if (!it->is_string() || it->get<std::string>().empty()) {
      return api_fail(invalid_request("'previous_response_id' must be a non-empty string",
                                      "previous_response_id"));
    }
    req.previous_response_id = it->get<std::string>();
  }
  if (auto it = body.find("metadata"); it != body.end() && !it->is_null()) {
    // OpenAI's limits: 16 pairs, keys up to 64 characters, values up to 512.
    if (!it->is_object()) return api_fail(wrong_type("metadata", *it, "an object"));
    if (it->size() > 16) {
      return api_fail(invalid_request("'metadata' may hold at most 16 pairs", "metadata"));
    }
    for (const auto& [key, value] : it->items()) {
      if (key.size() > 64) {
        return api_fail(
            invalid_request("'metadata' keys may be at most 64 characters", "metadata"));
      }
      if (!value.is_string()) {
        return api_fail(wrong_type("metadata." + key, value, "a string"));
      }
      if (value.get_ref<const std::string&>().size() > 512) {
        return api_fail(invalid_request("'metadata." + key + "' may be at most 512 characters",
                                        "metadata." + key));
      }
    }
    req.metadata = *it;
  }
  return req;
}

json build_chat_request(const ResponsesRequest& request, const json& history) {
  json messages = json::array();
  if (request.instructions) {
    messages.push_back({{"role", "system"}, {"content", *request.instructions}});
  }
  for (const auto& m : history) messages.push_back(m);
  for (const auto& m : request.input) messages.push_back(m);
  json chat = {{"messages", std::move(messages)}};
  if (!request.model.empty()) chat["model"] = request.model;
  if (request.max_output_tokens) chat["max_tokens"] = *request.max_output_tokens;
  if (!request.temperature.is_null()) chat["temperature"] = request.temperature;
  if (!request.top_p.is_null()) chat["top_p"] = request.top_p;
  if (!request.chat_tools.is_null()) {
    chat["tools"] = request.chat_tools;
    chat["tool_choice"] = chat_tool_choice(request.tool_choice);
  }
  if (!request.response_format.is_null()) chat["response_format"] = request.response_format;
  if (request.stream) {
    chat["stream"] = true;
    chat["stream_options"] = {{"include_usage", true}};
  }
  return chat;
}

json response_skeleton(const ResponsesRequest& request, const std::string& id, int64_t created_at,
                       const std::string& model) {
  return {
      {"id", id},
      {"object", "response"},
      {"created_at", created_at},
      {"status", "in_progress"},
      {"error", nullptr},
      {"incomplete_details", nullptr},
      {"instructions", request.instructions ? json(*request.instructions) : json(nullptr)},
      {"max_output_tokens",
       request.max_output_tokens ? json(*request.max_output_tokens) : json(nullptr)},
      {"model", model.empty() ? request.model : model},
      {"output", json::array()},
      {"parallel_tool_calls", true},
      {"previous_response_id",
       request.previous_response_id.empty() ? json(nullptr) : json(request.previous_response_id)},
      {"store", request.store},
      {"temperature", request.temperature.is_null() ? json(1.0) : request.temperature},
      {"text", request.text},
      {"tool_choice", request.tool_choice},
      {"tools", request.tools},
      {"top_p", request.top_p.is_null() ? json(1.0) : request.top_p},
      {"truncation", "disabled"},
      {"usage", nullptr},
      {"metadata", request.metadata}};
}

json responses_usage(const json& chat_usage) {
  if (!chat_usage.is_object()) return nullptr;
  const int64_t input = chat_usage.value("prompt_tokens", int64_t{0});
  const int64_t output = chat_usage.value("completion_tokens", int64_t{0});
  int64_t cached = 0;
  if (auto d = chat_usage.find("prompt_tokens_details"); d != chat_usage.end() && d->is_object()) {
    cached = d->value("cached_tokens", int64_t{0});
  }
  return {{"input_tokens", input},
          {"input_tokens_details", {{"cached_tokens", cached}}},
          {"output_tokens", output},
          {"output_tokens_details", {{"reasoning_tokens", 0}}},
          {"total_tokens", input + output}};
}

namespace {

json output_text_part(std::string text) {
  return {{"type", "output_text"}, {"text", std::move(text)}, {"annotations", json::array()}};
}

json message_item(const std::string& id, const std::string& status, json content) {
  return {{"id", id},
          {"type", "message"},
          {"status", status},
          {"role", "assistant"},
          {"content", std::move(content)}};
}

json function_call_item(const std::string& id, const std::string& status,
                        const std::string& call_id, const std::string& name,
                        const std::string& arguments) {
  return {{"id", id},     {"type", "function_call"}, {"status", status}, {"call_id", call_id},
          {"name", name}, {"arguments", arguments}};
}

json reasoning_item(const std::string& id, const std::string& text) {
  json content = json::array();
  if (!text.empty()) content.push_back({{"type", "reasoning_text"}, {"text", text}});
  return {{"id", id}, {"type", "reasoning"}, {"summary", json::array()}, {"content", content}};
}

// Sets status, usage and the details that go with them on a finished Response.
void finalize(json& response, json output, const json& finish_reason, const json& usage,
              const json& error) {
  response["output"] = std::move(output);
  response["usage"] = usage;
  if (!error.is_null()) {
    response["status"] = "failed";
    json code = error.value("code", json("server_error"));
    if (!code.is_string()) code = "server_error";
    json message = error.value("message", json("generation failed"));
    if (!message.is_string()) message = "generation failed";
    response["error"] = {{"code", std::move(code)}, {"message", std::move(message)}};
  } else if (finish_reason == "length") {
    response["status"] = "incomplete";
    response["incomplete_details"] = {{"reason", "max_output_tokens"}};
  } else {
    response["status"] = "completed";
  }
}

ApiResult<json> output_messages(const json& output) {
  return items_to_chat_messages(output, "output");
}

}  // namespace

ApiResult<ResponseOutcome> response_from_chat_completion(json skeleton, const json& completion,
                                                         const std::string& id_base) {
  auto choices = completion.find("choices");
  if (choices == completion.end() || !choices->is_array() || choices->empty() ||
      !(*choices)[0].is_object()) {
    return api_fail(internal_error("the chat completion has no choice"));
  }
  const json& choice = (*choices)[0];
  const json message = choice.value("message", json::object());
  int counter = 0;
  auto next_id = [&](const char* kind) {
    return std::string(kind) + "_" + id_base + "_" + std::to_string(counter++);
  };
  json output = json::array();
  if (auto r = message.find("reasoning_content");
      r != message.end() && r->is_string() && !r->get<std::string>().empty()) {
    output.push_back(reasoning_item(next_id("rs"), r->get<std::string>()));
  }
  if (auto c = message.find("content");
      c != message.end() && c->is_string() &&
      (!c->get<std::string>().empty() || !message.contains("tool_calls"))) {
    output.push_back(message_item(next_id("msg"), "completed",
                                  json::array({output_text_part(c->get<std::string>())})));
  }
  if (auto calls = message.find("tool_calls"); calls != message.end() && calls->is_array()) {
    for (const auto& call : *calls) {
      const json function = call.value("function", json::object());
      std::string call_id = call.value("id", std::string());
      const std::string item_id = next_id("fc");
      if (call_id.empty()) call_id = "call_" + item_id;
      output.push_back(function_call_item(item_id, "completed", call_id,
                                          function.value("name", std::string()),
                                          function.value("arguments", std::string())));
    }
  }
  if (auto model = completion.find("model"); model != completion.end() && model->is_string()) {
    skeleton["model"] = *model;
  }
  auto messages = output_messages(output);
  if (!messages) return api_fail(messages.error());
  finalize(skeleton, std::move(output), choice.value("finish_reason", json(nullptr)),
           responses_usage(completion.value("usage", json(nullptr))), nullptr);
  return ResponseOutcome{std::move(skeleton), std::move(*messages)};
}

std::string responses_sse(const json& event) {
  return "event: " + event.value("type", std::string()) + "\ndata: " + dump(event) + "\n\n";
}

std::vector<ChatSseReader::Event> ChatSseReader::feed(std::string_view text) {
  for (char c : text) {
    if (c != '\r') pending_ += c;
  }
  std::vector<Event> events;
  size_t start = 0;
  for (;;) {
    const size_t end = pending_.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view block(pending_.data() + start, end - start);
    start = end + 2;
    std::string data;
    size_t pos = 0;
    while (pos < block.size()) {
      size_t eol = block.find('\n', pos);
      if (eol == std::string_view::npos) eol = block.size();
      std::string_view line = block.substr(pos, eol - pos);
      pos = eol + 1;
      if (!line.starts_with("data:")) continue;  // event:, id:, comments
      line.remove_prefix(5);
      if (line.starts_with(' ')) line.remove_prefix(1);
      if (!data.empty()) data += '\n';
      data += line;
    }
    if (data.empty()) continue;
    if (data == "[DONE]") {
      events.push_back({Event::Kind::kDone, nullptr});
      continue;
    }
    json parsed = json::parse(data, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) continue;
    if (auto error = parsed.find("error"); error != parsed.end()) {
      events.push_back({Event::Kind::kError, *error});
      continue;
    }
    events.push_back({Event::Kind::kChunk, std::move(parsed)});
  }
  pending_.erase(0, start);
  return events;
}

ResponsesStreamTranslator::ResponsesStreamTranslator(json skeleton, std::string id_base)
    : response_(std::move(skeleton)), id_base_(std::move(id_base)) {}

std::string ResponsesStreamTranslator::emit(json event) {
  json ordered = {{"type", event["type"]}, {"sequence_number", sequence_++}};
  for (auto& [key, value] : event.items()) {
    if (key != "type") ordered[key] = std::move(value);
  }
  return responses_sse(ordered);
}

std::string ResponsesStreamTranslator::next_item_id(const char* kind) {
  return std::string(kind) + "_" + id_base_ + "_" + std::to_string(item_counter_++);
}

std::string ResponsesStreamTranslator::start(const std::string& model) {
  if (started_) return {};
  started_ = true;
  if (!model.empty()) response_["model"] = model;
  std::string out = emit({{"type", "response.created"}, {"response", response_}});
  out += emit({{"type", "response.in_progress"}, {"response", response_}});
  return out;
}

std::string ResponsesStreamTranslator::open_message() {
  open_ = Open::kMessage;
  open_text_.clear();
  open_item_ = message_item(next_item_id("msg"), "in_progress", json::array());
  const int index = static_cast<int>(output_.size());
  std::string out =
      emit({{"type", "response.output_item.added"}, {"output_index", index}, {"item", open_item_}});
  out += emit({{"type", "response.content_part.added"},
               {"item_id", open_item_["id"]},
               {"output_index", index},
               {"content_index", 0},
               {"part", output_text_part("")}});
  return out;
}

std::string ResponsesStreamTranslator::close_open_item() {
  const int index = static_cast<int>(output_.size());
  std::string out;
  json done;
  switch (open_) {
    case Open::kNone: return {};
    case Open::kMessage: {
      const json id = open_item_["id"];
      out += emit({{"type", "response.output_text.done"},
                   {"item_id", id},
                   {"output_index", index},
                   {"content_index", 0},
                   {"text", open_text_},
                   {"logprobs", json::array()}});
      out += emit({{"type", "response.content_part.done"},
                   {"item_id", id},
                   {"output_index", index},
                   {"content_index", 0},
                   {"part", output_text_part(open_text_)}});
      done = message_item(id, "completed", json::array({output_text_part(open_text_)}));
      break;
    }
    case Open::kFunctionCall:
      out += emit({{"type", "response.function_call_arguments.done"},
                   {"item_id", open_item_["id"]},
                   {"output_index", index},
                   {"name", open_item_["name"]},
                   {"arguments", open_text_}});
      done = open_item_;
      done["status"] = "completed";
      done["arguments"] = open_text_;
      break;
    case Open::kReasoning:
      out += emit({{"type", "response.reasoning_text.done"},
                   {"item_id", open_item_["id"]},
                   {"output_index", index},
                   {"content_index", 0},
                   {"text", open_text_}});
      done = reasoning_item(open_item_["id"], open_text_);
      break;
  }
  out += emit({{"type", "response.output_item.done"}, {"output_index", index}, {"item", done}});
  output_.push_back(std::move(done));
  open_ = Open::kNone;
  open_text_.clear();
  open_tool_index_ = -1;
  return out;
}

std::string ResponsesStreamTranslator::on_chunk(const json& chunk) {
  if (finished_) return {};
  std::string out;
  if (!started_) out += start(chunk.value("model", std::string()));
  if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) usage_ = *u;
  auto choices = chunk.find("choices");
  if (choices == chunk.end() || !choices->is_array() || choices->empty()) return out;
  const json& choice = (*choices)[0];
  if (!choice.is_object()) return out;
  const json delta = choice.value("delta", json::object());

  if (auto r = delta.find("reasoning_content");
      r != delta.end() && r->is_string() && !r->get<std::string>().empty()) {
    if (open_ != Open::kReasoning) {
      out += close_open_item();
      open_ = Open::kReasoning;
      open_item_ = reasoning_item(next_item_id("rs"), "");
      out += emit({{"type", "response.output_item.added"},
                   {"output_index", output_.size()},
                   {"item", open_item_}});
    }
    open_text_ += r->get<std::string>();
    out += emit({{"type", "response.reasoning_text.delta"},
                 {"item_id", open_item_["id"]},
                 {"output_index", output_.size()},
                 {"content_index", 0},
                 {"delta", *r}});
  }
  if (auto c = delta.find("content");
      c != delta.end() && c->is_string() && !c->get<std::string>().empty()) {
    if (open_ != Open::kMessage) {
      out += close_open_item();
      out += open_message();
    }
    open_text_ += c->get<std::string>();
    out += emit({{"type", "response.output_text.delta"},
                 {"item_id", open_item_["id"]},
                 {"output_index", output_.size()},
                 {"content_index", 0},
                 {"delta", *c},
                 {"logprobs", json::array()}});
  }
  if (auto calls = delta.find("tool_calls"); calls != delta.end() && calls->is_array()) {
    for (const auto& call : *calls) {
      if (!call.is_object()) continue;
      const int index = call.value("index", 0);
      const json function = call.value("function", json::object());
      if (open_ != Open::kFunctionCall || index != open_tool_index_) {
        out += close_open_item();
        open_ = Open::kFunctionCall;
        open_tool_index_ = index;
        open_text_.clear();
        const std::string item_id = next_item_id("fc");
        std::string call_id = call.value("id", std::string());
        if (call_id.empty()) call_id = "call_" + item_id;
        open_item_ = function_call_item(item_id, "in_progress", call_id,
                                        function.value("name", std::string()), "");
        out += emit({{"type", "response.output_item.added"},
                     {"output_index", output_.size()},
                     {"item", open_item_}});
      }
      const std::string piece = function.value("arguments", std::string());
      if (!piece.empty()) {
        open_text_ += piece;
        out += emit({{"type", "response.function_call_arguments.delta"},
                     {"item_id", open_item_["id"]},
                     {"output_index", output_.size()},
                     {"delta", piece}});
      }
    }
  }
  if (auto f = choice.find("finish_reason"); f != choice.end() && !f->is_null()) {
    finish_reason_ = *f;
  }
  return out;
}

void ResponsesStreamTranslator::on_error(const json& error) {
  error_ = error.is_object() ? error : json{{"message", "generation failed"}};
}

std::string ResponsesStreamTranslator::finish() {
  if (finished_) return {};
  std::string out;
  if (!started_) out += start();
  // An answer with no text at all is still one (empty) message, as in the non-streamed reply.
  if (open_ == Open::kNone && output_.empty() && error_.is_null() && !finish_reason_.is_null()) {
    out += open_message();
  }
  out += close_open_item();
  finished_ = true;
  json error = error_;
  if (error.is_null() && finish_reason_.is_null()) {
    error = {{"code", "server_error"}, {"message", "the generation ended before it finished"}};
  }
  json response = response_;
  finalize(response, output_, finish_reason_, responses_usage(usage_), error);
  const std::string terminal = response["status"] == "completed"    ? "response.completed"
                               : response["status"] == "incomplete" ? "response.incomplete"
                                                                    : "response.failed";
  out += emit({{"type", terminal}, {"response", response}});
  auto messages = output_messages(output_);
  outcome_ = {std::move(response), messages ? std::move(*messages) : json::array()};
  return out;
}

}  // namespace hearth::server
