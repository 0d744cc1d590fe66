// `hearth service start|stop|restart|status|ps|logs`: `hearth serve` in the background, with
// its pid/port in $HEARTH_HOME/service.json and output in $HEARTH_HOME/service.log.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "catalog/cache.h"
#include "cli/commands.h"
#include "cli/service_client.h"

namespace hearth::cli {
namespace {

using catalog::hearth_home;
using nlohmann::json;

struct StartArgs {
  int port = 8000;
  std::vector<std::string> serve_args;
};

int run_start(const StartArgs& args) {
  if (auto s = running_service(hearth_home())) {
    std::printf("hearth service is already running at %s/v1 (pid %d)\n", endpoint_url(*s).c_str(),
                s->pid);
    return 0;
  }
  auto s = start_service(hearth_home(), args.port, args.serve_args);
  if (!s) {
    std::fprintf(stderr, "hearth service start: %s\n", s.error().message.c_str());
    return 1;
  }
  std::printf("hearth service started at %s/v1 (pid %d, log %s)\n", endpoint_url(*s).c_str(),
              s->pid, service_log_path(hearth_home()).c_str());
  return 0;
}

int run_stop() {
  auto stopped = stop_service(hearth_home());
  if (!stopped) {
    std::fprintf(stderr, "hearth service stop: %s\n", stopped.error().message.c_str());
    return 1;
  }
  std::printf(*stopped ? "hearth service stopped\n" : "hearth service is not running\n");
  return 0;
}

int run_status() {
  auto s = running_service(hearth_home());
  if (!s) {
    std::printf("hearth service is not running (`hearth service start` starts it)\n");
    return 1;
  }
  // Clients (the Foundry Local SDK among them) take the URL printed here as ready to use, so
  // it is printed only once the server answers; a service that is still starting gets up to
  // 3 s (the SDK gives up after about ten quick tries).
  auto reply = service_request(*s, "GET", "/openai/status", {}, 2);
  for (int i = 0; i < 30 && !(reply && reply->status == 200) && running_service(hearth_home());
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reply = service_request(*s, "GET", "/openai/status", {}, 2);
  }
  if (!reply || reply->status != 200) {
    std::printf("hearth service (pid %d) is starting or not answering on port %d\n", s->pid,
                s->port);
    return 1;
  }
  std::printf("hearth service is running at %s/v1 (pid %d)\n", endpoint_url(*s).c_str(), s->pid);
  return 0;
}

int run_ps() {
  auto s = running_service(hearth_home());
  if (!s) {
    std::printf("hearth service is not running\n");
    return 1;
  }
  auto reply = service_request(*s, "GET", "/hearth/loaded");
  if (!reply || reply->status != 200) {
    std::fprintf(stderr, "hearth service ps: %s\n",
                 reply ? error_text(*reply).c_str() : reply.error().message.c_str());
    return 1;
  }
  json doc = json::parse(reply->body, nullptr, false);
  if (!doc.is_object() || !doc.contains("models") || !doc["models"].is_array()) {
    std::fprintf(stderr, "hearth service ps: unexpected answer from the service\n");
    return 1;
  }
  std::printf("%-28s %-11s %-9s %s\n", "MODEL", "MEMORY", "IN USE", "UNLOADS IN");
  for (const auto& m : doc["models"]) {
    const int64_t left = m.value("ttl_left_seconds", int64_t{-1});
    const std::string ttl = left < 0 ? "never" : std::to_string(left) + " s";
    std::printf("%-28s %-11s %-9d %s\n", m.value("id", "?").c_str(),
                catalog::format_bytes(m.value("memory_bytes", uint64_t{0})).c_str(),
                m.value("in_flight", 0), ttl.c_str());
  }
  if (doc["models"].empty()) std::printf("(no model loaded)\n");
  std::printf("memory budget: %s, used %s\n",
              catalog::format_bytes(doc.value("memory_budget_bytes", uint64_t{0})).c_str(),
              catalog::format_bytes(doc.value("memory_used_bytes", uint64_t{0})).c_str());
  return 0;
}

// Prints the last `lines` lines; with `follow`, keeps printing what the service appends
// (like `tail -F`: a log that shrinks was replaced, and is read again from its start).
int run_logs(int lines, bool follow) {
  const auto path = service_log_path(hearth_home());
  std::ifstream in(path, std::ios::binary);
  if (!in && !follow) {
    std::printf("no service log yet (%s)\n", path.c_str());
    return 0;
  }
  // The follow loop starts where this read ended, not at the size seen afterwards: a line
  // appended in between would otherwise be skipped.
  uint64_t offset = 0;
  std::deque<std::string> tail;
  for (std::string l; std::getline(in, l);) {
    offset += l.size() + (in.eof() ? 0 : 1);
    tail.push_back(std::move(l));
    if (tail.size() > static_cast<size_t>(lines)) tail.pop_front();
  }
  for (const auto& l : tail) std::printf("%s\n", l.c_str());
  std::fflush(stdout);
  if (!follow) return 0;

  std::error_code ec;
  std::vector<char> buffer(1 << 16);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) continue;  // not there (yet, or between a rename and its replacement)
    if (size < offset) offset = 0;
    if (size == offset) continue;
    std::ifstream grown(path, std::ios::binary);
    grown.seekg(static_cast<std::streamoff>(offset));
    while (grown) {
      grown.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      const auto got = grown.gcount();
      if (got <= 0) break;
      std::fwrite(buffer.data(), 1, static_cast<size_t>(got), stdout);
      offset += static_cast<uint64_t>(got);
    }
    std::fflush(stdout);
  }
}

}  // namespace

void register_service(CLI::App& app, int& exit_code) {
  auto* service = app.add_subcommand(
      "service", "The background service: start, stop, restart, status, ps, logs");
  service->require_subcommand(1);
  auto start_args = std::make_shared<StartArgs>();
  for (const char* name : {"start", "restart"}) {
    auto* cmd = service->add_subcommand(name, std::string(name) == "start"
                                                  ? "Start `hearth serve` in the background"
                                                  : "Stop and start the service");
    cmd->add_option("--port", start_args->port, "Port (default 8000)")->check(CLI::Range(1, 65535));
    cmd->add_option("--serve-arg", start_args->serve_args,
                    "Extra argument for `hearth serve` (repeatable)");
    const bool restart = std::string(name) == "restart";
    cmd->callback([start_args, restart, &exit_code] {
      if (restart) {
        if (auto s = running_service(hearth_home()); s && start_args->port == 8000)
          start_args->port = s->port;
        if (int rc = run_stop(); rc != 0) {
          exit_code = rc;
          return;
        }
      }
      exit_code = run_start(*start_args);
    });
  }
  service->add_subcommand("stop", "Stop the service")->callback([&exit_code] {
    exit_code = run_stop();
  });
  service->add_subcommand("status", "Whether it runs, and its endpoint")->callback([&exit_code] {
    exit_code = run_status();
  });
  service->add_subcommand("ps", "Loaded models, their memory and idle time left")
      ->callback([&exit_code] { exit_code = run_ps(); });
  auto lines = std::make_shared<int>(50);
  auto follow = std::make_shared<bool>(false);
  auto* logs = service->add_subcommand("logs", "The end of the service log");
  logs->add_option("-n,--lines", *lines, "How many lines")->check(CLI::Range(1, 1000000));
  logs->add_flag("-f,--follow", *follow, "Keep printing what the service writes (Ctrl-C ends)");
  logs->callback([lines, follow, &exit_code] { exit_code = run_logs(*lines, *follow); });
}

}  // namespace hearth::cli
