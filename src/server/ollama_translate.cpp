#include "server/ollama_translate.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace hearth::server::ollama {
namespace {

const char* type_name(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

ApiError wrong_type(const std::string& field, const json& value, const char* expected) {
  return invalid_request("'" + field + "' must be " + expected + ", got " + type_name(value),
                         field);
}

bool is_integer(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.0e15;
}

std::optional<ApiError> read_model(const json& body, std::string& out) {
  auto it = body.find("model");
  if (it == body.end() || it->is_null()) return std::nullopt;  // the server's default model
  if (!it->is_string()) return wrong_type("model", *it, "a string");
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> read_stream(const json& body, bool& stream) {
  auto it = body.find("stream");
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return wrong_type("stream", *it, "a boolean");
  stream = it->get<bool>();
  return std::nullopt;
}

// `options` (and `format`, `think`) into the OpenAI body; num_ctx into `out`.
std::optional<ApiError> translate_options(const json& body, Translated& out) {
  json& o = out.openai;
  o["temperature"] = 0.8;
  o["top_k"] = 40;
  o["top_p"] = 0.9;
  auto options = body.find("options");
  if (options != body.end() && !options->is_null()) {
    if (!options->is_object()) return wrong_type("options", *options, "an object");
    for (const auto& [key, value] : options->items()) {
      const std::string field = "options." + key;
      if (value.is_null()) continue;
      if (key == "temperature" || key == "top_p" || key == "min_p" || key == "repeat_penalty" ||
          key == "presence_penalty" || key == "frequency_penalty") {
        if (!value.is_number()) return wrong_type(field, value, "a number");
        o[key] = value;
      } else if (key == "top_k" || key == "seed") {
        if (!is_integer(value)) return wrong_type(field, value, "an integer");
        o[key] = value.get<int64_t>();
      } else if (key == "num_predict") {
        if (!is_integer(value)) return wrong_type(field, value, "an integer");
        const int64_t n = value.get<int64_t>();
        // -1: until the end of generation, -2: fill the context; both are hearth's default.
        if (n == -1 || n == -2) continue;
        if (n < 1 || n > 1048576) {
          return invalid_request(
              "'options.num_predict' must be -1, -2 or 1 .. 1048576, got " + std::to_string(n),
              field);
        }
        o["max_tokens"] = n;
      } else if (key == "num_ctx") {
        if (!is_integer(value)) return wrong_type(field, value, "an integer");
        const int64_t n = value.get<int64_t>();
        if (n < 1 || n > (int64_t{1} << 20)) {
          return invalid_request("'options.num_ctx' must be 1 .. 1048576, got " + std::to_string(n),
                                 field);
        }
        out.num_ctx = static_cast<int32_t>(n);
      } else if (key == "stop") {
        if (value.is_string()) {
          o["stop"] = json::array({value});
        } else if (value.is_array() && std::all_of(value.begin(), value.end(),
                                                   [](const json& s) { return s.is_string(); })) {
          if (!value.empty()) o["stop"] = value;
        } else {
          return wrong_type(field, value, "an array of strings");
        }
      }
      // Other options (num_thread, num_gpu, mirostat, repeat_last_n, ...) tune Ollama's own
      // runner; hearth has no equivalent and ignores them as Ollama ignores unknown ones.
    }
  }

  if (auto it = body.find("format"); it != body.end() && !it->is_null()) {
    if (it->is_string()) {
      const std::string f = it->get<std::string>();
      if (f == "json") {
        o["response_format"] = {{"type", "json_object"}};
      } else if (!f.empty()) {
        return invalid_request(
            "'format' must be \"json\" or a JSON schema object, got \"" + f + "\"", "format");
      }
    } else if (it->is_object()) {
      o["response_format"] = {{"type", "json_schema"},
                              {"json_schema", {{"name", "format"}, {"schema", *it}}}};
    } else {
      return wrong_type("format", *it, "\"json\" or a JSON schema object");
    }
  }

  if (auto it = body.find("think"); it != body.end() && !it->is_null()) {
    bool think = false;
    if (it->is_boolean()) {
      think = it->get<bool>();
    } else if (it->is_string()) {
      // gpt-oss style levels; hearth's templates only know on and off.
      const std::string level = it->get<std::string>();
      if (level != "high" && level != "medium" && level != "low") {
        return invalid_request("'think' must be a boolean or \"high\", \"medium\", \"low\"",
                               "think");
      }
      think = true;
    } else {
      return wrong_type("think", *it, "a boolean");
    }
    o["chat_template_kwargs"] = {{"enable_thinking", think}};
  }
  return std::nullopt;
}

// Ollama's tool call ({function:{name, arguments: object}}) as OpenAI's, with the arguments
// kept as an object: the chat templates (Qwen, Llama 3) iterate over them.
json openai_tool_calls(const json& calls) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call = calls[i];
    if (!call.contains("type")) call["type"] = "function";
    if (!call.contains("id")) call["id"] = "call_" + std::to_string(i);
    out.push_back(std::move(call));
  }
  return out;
}

std::optional<ApiError> translate_messages(const json& messages, json& out) {
  out = json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string param = "messages[" + std::to_string(i) + "]";
    const json& m = messages[i];
    if (!m.is_object()) return wrong_type(param, m, "an object");
    json msg = m;
    if (auto images = m.find("images"); images != m.end() && !images->is_null()) {
      if (!images->is_array()) return wrong_type(param + ".images", *images, "an array");
      if (!images->empty()) {
        return invalid_request("images are not supported: hearth serves text models only",
                               param + ".images");
      }
      msg.erase("images");
    }
    if (auto calls = m.find("tool_calls"); calls != m.end() && !calls->is_null()) {
      if (!calls->is_array()) return wrong_type(param + ".tool_calls", *calls, "an array");
      msg["tool_calls"] = openai_tool_calls(*calls);
    }
    if (auto thinking = m.find("thinking"); thinking != m.end() && !thinking->is_null()) {
      if (!thinking->is_string()) return wrong_type(param + ".thinking", *thinking, "a string");
      msg["reasoning_content"] = *thinking;
      msg.erase("thinking");
    }
    if (auto name = m.find("tool_name"); name != m.end() && name->is_string()) {
      msg["name"] = *name;
    }
    out.push_back(std::move(msg));
  }
  return std::nullopt;
}

// Applies an Ollama TEMPLATE that only substitutes {{ .System }}, {{ .Prompt }} and
// {{ .Response }}; nullopt (and `error` set) for anything else.
std::optional<std::string> apply_simple_template(const std::string& tmpl, const std::string& system,
                                                 const std::string& prompt, ApiError& error) {
  std::string out;
  size_t pos = 0;
  while (pos < tmpl.size()) {
    const size_t open = tmpl.find("{{", pos);
    if (open == std::string::npos) {
      out.append(tmpl, pos);
      break;
    }
    out.append(tmpl, pos, open - pos);
    const size_t close = tmpl.find("}}", open + 2);
    if (close == std::string::npos) {
      error = invalid_request("'template' has an unclosed {{", "template");
      return std::nullopt;
    }
    std::string inner = tmpl.substr(open + 2, close - open - 2);
    auto trim = [](std::string& s) {
      while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == '-'))
        s.pop_back();
      size_t b = 0;
      while (b < s.size() && (std::isspace(static_cast<unsigned char>(s[b])) || s[b] == '-')) ++b;
      s.erase(0, b);
    };
    trim(inner);
    if (inner == ".System") {
      out += system;
    } else if (inner == ".Prompt") {
      out += prompt;
    } else if (inner == ".Response") {
      // The model writes the response: the prompt ends here.
      return out;
    } else {
      error = invalid_request(
          "'template' may use {{ .System }}, {{ .Prompt }} and {{ .Response }} "
          "only; got {{ " +
              inner + " }}",
          "template");
      return std::nullopt;
    }
    pos = close + 2;
  }
  return out;
}

std::optional<ApiError> read_string(const json& body, const char* key, std::string& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) return wrong_type(key, *it, "a string");
  out = it->get<std::string>();
  return std::nullopt;
}

std::optional<ApiError> check_object(const json& body) {
  if (!body.is_object()) return invalid_json("the body must be a JSON object");
  return std::nullopt;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<std::string> name_candidates(std::string_view name) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end())
      out.push_back(std::move(s));
  };
  if (name.empty()) return out;
  const size_t colon = name.rfind(':');
  // A path or hub reference is not a name:tag.
  const bool tagged = colon != std::string_view::npos && name.find('/') == std::string_view::npos;
  if (!tagged) {
    add(std::string(name));
    return out;
  }
  const std::string base(name.substr(0, colon));
  const std::string tag(name.substr(colon + 1));
  if (tag.empty() || lower(tag) == "latest") {
    add(base);
    add(std::string(name));
    return out;
  }
  add(std::string(name));  // alias:quantization, or an id that has a colon
  add(base + "-" + tag);   // qwen2.5:0.5b -> qwen2.5-0.5b
  return out;
}

std::string variant_name(std::string_view alias, std::string_view quantization) {
  std::string out(alias);
  out += ':';
  out += quantization.empty() ? std::string_view("latest") : quantization;
  return out;
}

std::string served_name(std::string_view id) {
  std::string out(id);
  if (id.find(':') == std::string_view::npos) out += ":latest";
  return out;
}

ApiResult<std::optional<KeepAlive>> parse_keep_alive(const json& body) {
  auto it = body.find("keep_alive");
  if (it == body.end() || it->is_null()) return std::optional<KeepAlive>{};
  auto bad = [] {
    return api_fail(invalid_request(
        "'keep_alive' must be a number of seconds or a duration such as \"5m\", \"1h\", \"-1\"",
        "keep_alive"));
  };
  double seconds = 0;
  if (it->is_number()) {
    seconds = it->get<double>();
    if (!std::isfinite(seconds)) return bad();
  } else if (it->is_string()) {
    const std::string text = it->get<std::string>();
    if (text.empty()) return bad();
    size_t pos = 0;
    bool negative = false;
    if (text[0] == '-') {
      negative = true;
      pos = 1;
    }
    bool any = false;
    while (pos < text.size()) {
      size_t end = pos;
      while (end < text.size() &&
             (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == '.'))
        ++end;
      if (end == pos) return bad();
      const double value = std::strtod(text.substr(pos, end - pos).c_str(), nullptr);
      size_t unit_end = end;
      while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end])))
        ++unit_end;
      const std::string unit = text.substr(end, unit_end - end);
      double scale = 0;
      if (unit.empty()) {
        if (any || unit_end != text.size()) return bad();  // a bare number stands alone
        scale = 1;
      } else if (unit == "h") {
        scale = 3600;
      } else if (unit == "m") {
        scale = 60;
      } else if (unit == "s") {
        scale = 1;
      } else if (unit == "ms") {
        scale = 1e-3;
      } else if (unit == "us" || unit == "µs") {
        scale = 1e-6;
      } else if (unit == "ns") {
        scale = 1e-9;
      } else {
        return bad();
      }
      seconds += value * scale;
      any = true;
      pos = unit_end;
    }
    if (negative) seconds = -seconds;
  } else {
    return bad();
  }
  if (seconds < 0) return std::optional<KeepAlive>{KeepAlive{KeepAlive::kForever}};
  if (seconds > 365.0 * 86400) seconds = 365.0 * 86400;
  return std::optional<KeepAlive>{KeepAlive{static_cast<int>(std::ceil(seconds))}};
}

ApiResult<Translated> translate_chat(const json& body) {
  if (auto e = check_object(body)) return api_fail(*e);
  Translated t;
  t.openai = json::object();
  if (auto e = read_model(body, t.model)) return api_fail(*e);
  if (auto e = read_stream(body, t.stream)) return api_fail(*e);
  auto keep = parse_keep_alive(body);
  if (!keep) return api_fail(keep.error());
  t.keep_alive = *keep;
  if (auto e = translate_options(body, t)) return api_fail(*e);
  json messages = json::array();
  if (auto it = body.find("messages"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return api_fail(wrong_type("messages", *it, "an array"));
    if (auto e = translate_messages(*it, messages)) return api_fail(*e);
  }
  t.load_only = messages.empty();
  t.openai["messages"] = std::move(messages);
  if (auto it = body.find("tools"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return api_fail(wrong_type("tools", *it, "an array"));
    t.openai["tools"] = *it;
  }
  if (!t.model.empty()) t.openai["model"] = t.model;
  return t;
}

ApiResult<Translated> translate_generate(const json& body) {
  if (auto e = check_object(body)) return api_fail(*e);
  Translated t;
  t.openai = json::object();
  if (auto e = read_model(body, t.model)) return api_fail(*e);
  if (auto e = read_stream(body, t.stream)) return api_fail(*e);
  auto keep = parse_keep_alive(body);
  if (!keep) return api_fail(keep.error());
  t.keep_alive = *keep;
  if (auto e = translate_options(body, t)) return api_fail(*e);
  std::string prompt, system, tmpl, suffix;
  if (auto e = read_string(body, "prompt", prompt)) return api_fail(*e);
  if (auto e = read_string(body, "system", system)) return api_fail(*e);
  if (auto e = read_string(body, "template", tmpl)) return api_fail(*e);
  if (auto e = read_string(body, "suffix", suffix)) return api_fail(*e);
  if (!suffix.empty()) {
    return api_fail(invalid_request("'suffix' (fill-in-the-middle) is not supported", "suffix"));
  }
  bool raw = false;
  if (auto it = body.find("raw"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return api_fail(wrong_type("raw", *it, "a boolean"));
    raw = it->get<bool>();
  }
  if (auto it = body.find("images"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) return api_fail(wrong_type("images", *it, "an array"));
    if (!it->empty()) {
      return api_fail(
          invalid_request("images are not supported: hearth serves text models only", "images"));
    }
  }
  if (auto it = body.find("context"); it != body.end() && !it->is_null() && !it->is_array()) {
    return api_fail(wrong_type("context", *it, "an array of token ids"));
  }
  if (!t.model.empty()) t.openai["model"] = t.model;
  if (prompt.empty() && system.empty()) {
    t.load_only = true;
    t.openai["messages"] = json::array();
    return t;
  }
  if (!tmpl.empty()) {
    ApiError error;
    auto rendered = apply_simple_template(tmpl, system, prompt, error);
    if (!rendered) return api_fail(error);
    prompt = std::move(*rendered);
    raw = true;
  }
  if (raw) {
    t.completion = true;
    t.openai["prompt"] = prompt;
    return t;
  }
  json messages = json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", prompt}});
  t.openai["messages"] = std::move(messages);
  return t;
}

ApiResult<TranslatedEmbed> translate_embed(const json& body, bool legacy) {
  if (auto e = check_object(body)) return api_fail(*e);
  TranslatedEmbed t;
  t.legacy = legacy;
  if (auto e = read_model(body, t.model)) return api_fail(*e);
  auto keep = parse_keep_alive(body);
  if (!keep) return api_fail(keep.error());
  t.keep_alive = *keep;
  json input;
  if (legacy) {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null())
      return api_fail(invalid_request("'prompt' is required", "prompt"));
    if (!it->is_string()) return api_fail(wrong_type("prompt", *it, "a string"));
    input = *it;
  } else {
    auto it = body.find("input");
    if (it == body.end() || it->is_null())
      return api_fail(invalid_request("'input' is required", "input"));
    if (it->is_string()) {
      input = *it;
    } else if (it->is_array() && !it->empty() &&
               std::all_of(it->begin(), it->end(), [](const json& s) { return s.is_string(); })) {
      input = *it;
    } else {
      return api_fail(wrong_type("input", *it, "a string or a non-empty array of strings"));
    }
    if (auto tr = body.find("truncate"); tr != body.end() && !tr->is_null() && !tr->is_boolean()) {
      return api_fail(wrong_type("truncate", *tr, "a boolean"));
    }
    if (auto d = body.find("dimensions"); d != body.end() && !d->is_null()) {
      return api_fail(invalid_request("'dimensions' is not supported", "dimensions"));
    }
  }
  t.openai = {{"input", input}};
  if (!t.model.empty()) t.openai["model"] = t.model;
  return t;
}

ApiResult<std::string> model_field(const json& body) {
  if (!body.is_object()) return api_fail(invalid_json("the body must be a JSON object"));
  for (const char* key : {"model", "name"}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_string()) return api_fail(wrong_type(key, *it, "a string"));
    if (it->get<std::string>().empty()) break;
    return it->get<std::string>();
  }
  return api_fail(invalid_request("'model' is required", "model"));
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto since = t.time_since_epoch();
  const auto secs = std::chrono::floor<std::chrono::seconds>(since);
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(since - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(nanos));
  return buf;
}

json ollama_message(const json& openai_message) {
  json out = {{"role", "assistant"}, {"content", ""}};
  if (!openai_message.is_object()) return out;
  if (auto it = openai_message.find("content"); it != openai_message.end() && it->is_string()) {
    out["content"] = *it;
  }
  if (auto it = openai_message.find("reasoning_content");
      it != openai_message.end() && it->is_string() && !it->get<std::string>().empty()) {
    out["thinking"] = *it;
  }
  if (auto it = openai_message.find("tool_calls");
      it != openai_message.end() && it->is_array() && !it->empty()) {
    json calls = json::array();
    for (const auto& call : *it) {
      if (!call.is_object()) continue;
      const json fn = call.value("function", json::object());
      json arguments = fn.value("arguments", json::object());
      if (arguments.is_string()) {
        // OpenAI sends the arguments as JSON text; Ollama as an object.
        json parsed = json::parse(arguments.get<std::string>(), nullptr, false);
        arguments = parsed.is_discarded() ? json::object() : parsed;
      }
      json function = {{"name", fn.value("name", "")}, {"arguments", std::move(arguments)}};
      if (call.contains("index")) function["index"] = call["index"];
      calls.push_back({{"function", std::move(function)}});
    }
    out["tool_calls"] = std::move(calls);
  }
  return out;
}

json chat_chunk(const std::string& model, const std::string& created_at, const json& message) {
  return {{"model", model}, {"created_at", created_at}, {"message", message}, {"done", false}};
}

json generate_chunk(const std::string& model, const std::string& created_at, const json& message) {
  json chunk = {{"model", model}, {"created_at", created_at}, {"response", ""}};
  if (message.is_object()) {
    if (auto it = message.find("content"); it != message.end() && it->is_string()) {
      chunk["response"] = *it;
    }
    if (auto it = message.find("thinking"); it != message.end()) chunk["thinking"] = *it;
    if (auto it = message.find("tool_calls"); it != message.end()) chunk["tool_calls"] = *it;
  }
  chunk["done"] = false;
  return chunk;
}

void add_final_fields(json& chunk, const StreamEvent& done, const Timings& timings) {
  chunk["done"] = true;
  chunk["done_reason"] = std::string(finish_reason_name(done.finish));
  chunk["total_duration"] = timings.total_ns;
  chunk["load_duration"] = timings.load_ns;
  chunk["prompt_eval_count"] = done.prompt_tokens;
  chunk["prompt_eval_duration"] = timings.prompt_eval_ns;
  chunk["eval_count"] = done.completion_tokens;
  chunk["eval_duration"] = timings.eval_ns;
}

json error_body(const ApiError& error) {
  return {{"error", error.message}};
}

}  // namespace hearth::server::ollama
