// The router's configuration (router.toml, documented key by key in docs/router.md) and its
// parser. Parsing is strict: an unknown key, a wrong type, a duplicate name or a reference to
// an unknown target is an Error naming the file, the line and the key, so a typo is refused at
// startup instead of silently changing where requests go.
//
// Plain values; thread-safe to read once built.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hearth/status.h"

namespace hearth::router {

enum class TargetKind { kLocal, kOpenAI };
enum class Policy { kLocalFirst, kCloudFirst, kLocalOnly, kCloudOnly };

struct TargetConfig {
  std::string name;
  TargetKind kind = TargetKind::kLocal;
  std::string model;                   // local: alias/path the registry loads; openai: upstream id
  std::vector<std::string> base_urls;  // openai: one or more replicas, without a trailing '/'
  std::string api_key_env;             // openai: the environment variable holding the key
  double price_input_per_mtok = 0;     // USD per million prompt tokens
  double price_output_per_mtok = 0;
};

struct RouteConfig {
  std::string name;
  Policy policy = Policy::kLocalFirst;
  std::vector<std::string> targets;
  int max_local_prompt_tokens = 0;  // 0: no limit
  std::map<std::string, std::vector<std::string>> tasks;
};

// The failures that move a request to the next target.
struct FallbackConfig {
  bool on_connect = true;
  bool on_timeout = true;
  bool on_http_429 = true;
  bool on_http_5xx = true;
  bool on_context_overflow = true;
  bool on_overloaded = true;
  int first_token_timeout_ms = 10000;
  int cooldown_s = 30;
  int request_timeout_s = 600;  // a whole upstream request, first byte to last
  int overload_queue_ms =
      2000;                 // a local target whose estimated queue wait passes this is overloaded
  int health_check_s = 10;  // replicas: GET {base_url}/models this often (0: off)
};

struct PrivacyConfig {
  std::vector<std::string> detect;  // detector names (detect.h)
  bool on_match_local_only = true;  // the only on_match value: "local-only"
};

struct RouterConfig {
  std::filesystem::path source;
  std::vector<TargetConfig> targets;
  std::vector<RouteConfig> routes;
  PrivacyConfig privacy;
  FallbackConfig fallback;

  const TargetConfig* target(const std::string& name) const;
  const RouteConfig* route(const std::string& name) const;
};

// Parses TOML text; `source` names the file in errors ("router.toml:12: ...").
Result<RouterConfig> parse_router_config(const std::string& text,
                                         const std::filesystem::path& source);
Result<RouterConfig> load_router_config(const std::filesystem::path& path);

std::string_view policy_name(Policy policy);

}  // namespace hearth::router
