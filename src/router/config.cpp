#include "router/config.h"

#include <toml++/toml.h>

#include <fstream>
#include <set>
#include <sstream>

#include "router/detect.h"

namespace hearth::router {
namespace {

// Collects the first error with its location; parsing stops at the first one so the message
// points at one line the user can fix.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  Error error_at(const toml::node& node, const std::string& key, const std::string& what) const {
    return Error{file_ + ":" + std::to_string(node.source().begin.line) + ": " + key + ": " + what,
                 ErrorKind::kInvalidInput};
  }
  Error error_line(int line, const std::string& key, const std::string& what) const {
    return Error{file_ + ":" + std::to_string(line) + ": " + key + ": " + what,
                 ErrorKind::kInvalidInput};
  }

  // Every key of `table` must be in `known`.
  Status only_keys(const toml::table& table, const std::string& where,
                   std::initializer_list<std::string_view> known) const {
    for (const auto& [key, node] : table) {
      bool ok = false;
      for (auto k : known) ok = ok || key.str() == k;
      if (!ok) {
        return std::unexpected(
            error_at(node, where + std::string(key.str()), "unknown key (see docs/router.md)"));
      }
    }
    return ok_status();
  }

  static Status ok_status() { return {}; }

  Result<std::string> string(const toml::table& t, std::string_view key, const std::string& path,
                             bool required) const {
    const toml::node* node = t.get(key);
    if (!node) {
      if (!required) return std::string();
      return std::unexpected(error_line(static_cast<int>(t.source().begin.line),
                                        path + std::string(key), "required key is missing"));
    }
    if (!node->is_string()) {
      return std::unexpected(error_at(*node, path + std::string(key), "must be a string"));
    }
    auto value = node->value<std::string>().value_or("");
    if (required && value.empty()) {
      return std::unexpected(error_at(*node, path + std::string(key), "must not be empty"));
    }
    return value;
  }

  Result<std::vector<std::string>> strings(const toml::node& node, const std::string& key) const {
    const toml::array* arr = node.as_array();
    if (!arr) return std::unexpected(error_at(node, key, "must be an array of strings"));
    std::vector<std::string> out;
    for (const auto& item : *arr) {
      if (!item.is_string()) return std::unexpected(error_at(item, key, "must hold strings"));
      out.push_back(item.value<std::string>().value_or(""));
    }
    return out;
  }

  Result<double> number(const toml::node& node, const std::string& key, double min,
                        double max) const {
    double v = 0;
    if (node.is_integer()) {
      v = static_cast<double>(node.value<int64_t>().value_or(0));
    } else if (node.is_floating_point()) {
      v = node.value<double>().value_or(0);
    } else {
      return std::unexpected(error_at(node, key, "must be a number"));
    }
    if (v < min || v > max) {
      std::ostringstream os;
      os << "must be between " << min << " and " << max;
      return std::unexpected(error_at(node, key, os.str()));
    }
    return v;
  }

  Result<int> integer(const toml::node& node, const std::string& key, int64_t min,
                      int64_t max) const {
    if (!node.is_integer()) return std::unexpected(error_at(node, key, "must be an integer"));
    int64_t v = node.value<int64_t>().value_or(0);
    if (v < min || v > max) {
      return std::unexpected(error_at(
          node, key, "must be between " + std::to_string(min) + " and " + std::to_string(max)));
    }
    return static_cast<int>(v);
  }

 private:
  std::string file_;
};

Result<TargetConfig> parse_target(const Checker& c, const toml::table& t, size_t index) {
  const std::string path = "target[" + std::to_string(index) + "].";
  if (auto s = c.only_keys(
          t, path,
          {"name", "kind", "model", "base_url", "base_urls", "api_key_env", "price_per_mtok"});
      !s) {
    return std::unexpected(s.error());
  }
  TargetConfig target;
  auto name = c.string(t, "name", path, true);
  if (!name) return std::unexpected(name.error());
  target.name = *name;
  auto kind = c.string(t, "kind", path, true);
  if (!kind) return std::unexpected(kind.error());
  if (*kind == "local") {
    target.kind = TargetKind::kLocal;
  } else if (*kind == "openai") {
    target.kind = TargetKind::kOpenAI;
  } else {
    return std::unexpected(
        c.error_at(*t.get("kind"), path + "kind", "must be \"local\" or \"openai\""));
  }
  auto model = c.string(t, "model", path, true);
  if (!model) return std::unexpected(model.error());
  target.model = *model;

  const toml::node* base_url = t.get("base_url");
  const toml::node* base_urls = t.get("base_urls");
  if (target.kind == TargetKind::kLocal) {
    for (const char* key : {"base_url", "base_urls", "api_key_env", "price_per_mtok"}) {
      if (const toml::node* n = t.get(key)) {
        return std::unexpected(c.error_at(*n, path + key, "only an openai target has it"));
      }
    }
    return target;
  }
  if (base_url && base_urls) {
    return std::unexpected(
        c.error_at(*base_urls, path + "base_urls", "give base_url or base_urls, not both"));
  }
  if (base_url) {
    auto url = c.string(t, "base_url", path, true);
    if (!url) return std::unexpected(url.error());
    target.base_urls.push_back(*url);
  } else if (base_urls) {
    auto urls = c.strings(*base_urls, path + "base_urls");
    if (!urls) return std::unexpected(urls.error());
    if (urls->empty())
      return std::unexpected(c.error_at(*base_urls, path + "base_urls", "must not be empty"));
    target.base_urls = *urls;
  } else {
    return std::unexpected(c.error_line(static_cast<int>(t.source().begin.line), path + "base_url",
                                        "an openai target needs base_url or base_urls"));
  }
  for (auto& url : target.base_urls) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return std::unexpected(c.error_at(base_url ? *base_url : *base_urls,
                                        path + (base_url ? "base_url" : "base_urls"),
                                        "must start with http:// or https://"));
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
  }
  auto env = c.string(t, "api_key_env", path, false);
  if (!env) return std::unexpected(env.error());
  target.api_key_env = *env;
  if (const toml::node* price = t.get("price_per_mtok")) {
    const toml::table* pt = price->as_table();
    if (!pt)
      return std::unexpected(
          c.error_at(*price, path + "price_per_mtok", "must be a table {input, output}"));
    if (auto s = c.only_keys(*pt, path + "price_per_mtok.", {"input", "output"}); !s) {
      return std::unexpected(s.error());
    }
    if (const toml::node* n = pt->get("input")) {
      auto v = c.number(*n, path + "price_per_mtok.input", 0, 1e6);
      if (!v) return std::unexpected(v.error());
      target.price_input_per_mtok = *v;
    }
    if (const toml::node* n = pt->get("output")) {
      auto v = c.number(*n, path + "price_per_mtok.output", 0, 1e6);
      if (!v) return std::unexpected(v.error());
      target.price_output_per_mtok = *v;
    }
  }
  return target;
}

Result<RouteConfig> parse_route(const Checker& c, const toml::table& t, size_t index,
                                const std::set<std::string>& target_names) {
  const std::string path = "route[" + std::to_string(index) + "].";
  if (auto s =
          c.only_keys(t, path, {"name", "policy", "targets", "max_local_prompt_tokens", "tasks"});
      !s) {
    return std::unexpected(s.error());
  }
  RouteConfig route;
  auto name = c.string(t, "name", path, true);
  if (!name) return std::unexpected(name.error());
  route.name = *name;
  auto policy = c.string(t, "policy", path, false);
  if (!policy) return std::unexpected(policy.error());
  if (policy->empty() || *policy == "local-first") {
    route.policy = Policy::kLocalFirst;
  } else if (*policy == "cloud-first") {
    route.policy = Policy::kCloudFirst;
  } else if (*policy == "local-only") {
    route.policy = Policy::kLocalOnly;
  } else if (*policy == "cloud-only") {
    route.policy = Policy::kCloudOnly;
  } else {
    return std::unexpected(
        c.error_at(*t.get("policy"), path + "policy",
                   "must be local-first, cloud-first, local-only or cloud-only"));
  }
  auto check_names = [&](const toml::node& node, const std::string& key,
                         const std::vector<std::string>& names) -> Status {
    if (names.empty())
      return std::unexpected(c.error_at(node, key, "must name at least one target"));
    for (const auto& n : names) {
      if (!target_names.contains(n)) {
        return std::unexpected(c.error_at(node, key, "unknown target \"" + n + "\""));
      }
    }
    return Checker::ok_status();
  };
  const toml::node* targets = t.get("targets");
  if (!targets) {
    return std::unexpected(c.error_line(static_cast<int>(t.source().begin.line), path + "targets",
                                        "required key is missing"));
  }
  auto names = c.strings(*targets, path + "targets");
  if (!names) return std::unexpected(names.error());
  if (auto s = check_names(*targets, path + "targets", *names); !s)
    return std::unexpected(s.error());
  route.targets = *names;
  if (const toml::node* n = t.get("max_local_prompt_tokens")) {
    auto v = c.integer(*n, path + "max_local_prompt_tokens", 0, 1 << 24);
    if (!v) return std::unexpected(v.error());
    route.max_local_prompt_tokens = *v;
  }
  if (const toml::node* n = t.get("tasks")) {
    const toml::table* tasks = n->as_table();
    if (!tasks)
      return std::unexpected(c.error_at(*n, path + "tasks", "must be a table of task = [targets]"));
    for (const auto& [task, chain] : *tasks) {
      const std::string key = path + "tasks." + std::string(task.str());
      auto chain_names = c.strings(chain, key);
      if (!chain_names) return std::unexpected(chain_names.error());
      if (auto s = check_names(chain, key, *chain_names); !s) return std::unexpected(s.error());
      route.tasks[std::string(task.str())] = *chain_names;
    }
  }
  return route;
}

Result<RouterConfig> parse_checked(const toml::table& root, const Checker& c) {
  RouterConfig config;
  if (auto s = c.only_keys(root, "", {"target", "route", "privacy", "fallback"}); !s) {
    return std::unexpected(s.error());
  }
  std::set<std::string> target_names;
  if (const toml::node* n = root.get("target")) {
    const toml::array* arr = n->as_array();
    if (!arr) return std::unexpected(c.error_at(*n, "target", "must be [[target]] tables"));
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return std::unexpected(c.error_at((*arr)[i], "target", "must be a table"));
      auto target = parse_target(c, *t, i);
      if (!target) return std::unexpected(target.error());
      if (!target_names.insert(target->name).second) {
        return std::unexpected(c.error_at(*t->get("name"), "target[" + std::to_string(i) + "].name",
                                          "a second target named \"" + target->name + "\""));
      }
      config.targets.push_back(std::move(*target));
    }
  }
  if (const toml::node* n = root.get("route")) {
    const toml::array* arr = n->as_array();
    if (!arr) return std::unexpected(c.error_at(*n, "route", "must be [[route]] tables"));
    std::set<std::string> route_names;
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return std::unexpected(c.error_at((*arr)[i], "route", "must be a table"));
      auto route = parse_route(c, *t, i, target_names);
      if (!route) return std::unexpected(route.error());
      if (!route_names.insert(route->name).second) {
        return std::unexpected(c.error_at(*t->get("name"), "route[" + std::to_string(i) + "].name",
                                          "a second route named \"" + route->name + "\""));
      }
      config.routes.push_back(std::move(*route));
    }
  }
  if (config.routes.empty()) {
    return std::unexpected(c.error_line(1, "route", "the file defines no [[route]]"));
  }
  if (const toml::node* n = root.get("privacy")) {
    const toml::table* t = n->as_table();
    if (!t) return std::unexpected(c.error_at(*n, "privacy", "must be a table"));
    if (auto s = c.only_keys(*t, "privacy.", {"detect", "on_match"}); !s)
      return std::unexpected(s.error());
    if (const toml::node* d = t->get("detect")) {
      auto names = c.strings(*d, "privacy.detect");
      if (!names) return std::unexpected(names.error());
      for (const auto& name : *names) {
        if (!is_detector_name(name)) {
          return std::unexpected(
              c.error_at(*d, "privacy.detect", "unknown detector \"" + name + "\""));
        }
      }
      config.privacy.detect = *names;
    }
    auto on_match = c.string(*t, "on_match", "privacy.", false);
    if (!on_match) return std::unexpected(on_match.error());
    if (!on_match->empty() && *on_match != "local-only") {
      return std::unexpected(
          c.error_at(*t->get("on_match"), "privacy.on_match", "must be \"local-only\""));
    }
  }
  if (const toml::node* n = root.get("fallback")) {
    const toml::table* t = n->as_table();
    if (!t) return std::unexpected(c.error_at(*n, "fallback", "must be a table"));
    if (auto s = c.only_keys(*t, "fallback.",
                             {"on", "first_token_timeout_ms", "cooldown_s", "request_timeout_s",
                              "overload_queue_ms", "health_check_s"});
        !s) {
      return std::unexpected(s.error());
    }
    FallbackConfig& f = config.fallback;
    if (const toml::node* on = t->get("on")) {
      auto names = c.strings(*on, "fallback.on");
      if (!names) return std::unexpected(names.error());
      f.on_connect = f.on_timeout = f.on_http_429 = f.on_http_5xx = f.on_context_overflow =
          f.on_overloaded = false;
      for (const auto& name : *names) {
        if (name == "connect")
          f.on_connect = true;
        else if (name == "timeout")
          f.on_timeout = true;
        else if (name == "http_429")
          f.on_http_429 = true;
        else if (name == "http_5xx")
          f.on_http_5xx = true;
        else if (name == "context_overflow")
          f.on_context_overflow = true;
        else if (name == "overloaded")
          f.on_overloaded = true;
        else
          return std::unexpected(
              c.error_at(*on, "fallback.on", "unknown failure \"" + name + "\""));
      }
    }
    struct IntKey {
      const char* key;
      int* out;
      int64_t min, max;
    };
    for (IntKey k : {IntKey{"first_token_timeout_ms", &f.first_token_timeout_ms, 1, 3600000},
                     IntKey{"cooldown_s", &f.cooldown_s, 0, 86400},
                     IntKey{"request_timeout_s", &f.request_timeout_s, 1, 86400},
                     IntKey{"overload_queue_ms", &f.overload_queue_ms, 0, 3600000},
                     IntKey{"health_check_s", &f.health_check_s, 0, 86400}}) {
      if (const toml::node* v = t->get(k.key)) {
        auto value = c.integer(*v, std::string("fallback.") + k.key, k.min, k.max);
        if (!value) return std::unexpected(value.error());
        *k.out = *value;
      }
    }
  }
  return config;
}

}  // namespace

const TargetConfig* RouterConfig::target(const std::string& name) const {
  for (const auto& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const RouteConfig* RouterConfig::route(const std::string& name) const {
  for (const auto& r : routes) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string_view policy_name(Policy policy) {
  switch (policy) {
    case Policy::kLocalFirst: return "local-first";
    case Policy::kCloudFirst: return "cloud-first";
    case Policy::kLocalOnly: return "local-only";
    case Policy::kCloudOnly: return "cloud-only";
  }
  return "local-first";
}

Result<RouterConfig> parse_router_config(const std::string& text,
                                         const std::filesystem::path& source) {
  const std::string file = source.string();
  Checker checker(file);
  try {
    toml::table root = toml::parse(text, file);
    auto config = parse_checked(root, checker);
    if (config) config->source = source;
    return config;
  } catch (const toml::parse_error& e) {
    return fail(ErrorKind::kInvalidInput, file + ":" + std::to_string(e.source().begin.line) +
                                              ": " + std::string(e.description()));
  } catch (const std::exception& e) {
    return fail(ErrorKind::kInvalidInput, file + ": " + e.what());
  }
}

Result<RouterConfig> load_router_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorKind::kNotFound, path.string() + ": cannot read the router file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_router_config(text.str(), path);
}

}  // namespace hearth::router
