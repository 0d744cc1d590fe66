// The background service and serving many models: `hearth service`, `hearth model run`,
// on-demand loading, TTL unloading, LRU eviction under a memory budget, 507.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/fixtures.h"
#include "support/process.h"
#include "support/test_hub.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TestHub;

// A port nobody listens on. A plain socket, closed at once: an httplib::Server probe would
// keep its SO_REUSEPORT socket listening and steal some of the connections meant for hearth.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool process_alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hearth-service-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
    port_ = free_port();
    // Test aliases for the fixture models, fetched from the local hub.
    const std::string sha =
        *catalog::sha256_file(testing::fixtures_dir() / "models" / "stories260K.gguf");
    json models = json::array();
    models.push_back({{"alias", "tinystories-260k"},
                      {"tasks", {"chat"}},
                      {"context_length", 512},
                      {"variants",
                       {{{"quantization", "f32"},
                         {"repo", "ggml-org/models"},
                         {"file", "tinyllamas/stories260K.gguf"},
                         {"sha256", sha},
                         {"size_mb", 2}}}}});
    for (const char* name : {"tiny-qwen2-q8_0", "tiny-llama3-q8_0", "tiny-phi3-q4_k_m"}) {
      models.push_back({{"alias", std::string(name)},
                        {"tasks", {"chat"}},
                        {"variants",
                         {{{"quantization", "q8_0"},
                           {"repo", "test/fixtures"},
                           {"file", std::string(name) + ".gguf"},
                           {"size_mb", 16}}}}});
    }
    std::ofstream(home_ / "catalog.json") << json{{"models", models}}.dump();
  }
  void TearDown() override {
    testing::run_shell(hearth("service stop"));
    if (serve_pid_ > 0) {
      ::kill(serve_pid_, SIGKILL);
      ::waitpid(serve_pid_, nullptr, 0);
    }
    fs::remove_all(home_);
  }

  std::map<std::string, std::string> env() const {
    return {{"HEARTH_HOME", home_.string()},
            {"HEARTH_HUB_URL", hub_.url()},
            {"HEARTH_CATALOG", (home_ / "catalog.json").string()},
            {"HF_TOKEN", ""}};
  }
  std::string hearth(const std::string& args) const {
    return testing::env_prefix(env()) + testing::shell_quote(testing::hearth_binary()) + " " + args;
  }
  std::optional<pid_t> recorded_pid() const {
    std::ifstream in(home_ / "service.json");
    json doc = json::parse(in, nullptr, false);
    if (!doc.is_object()) return std::nullopt;
    return doc.value("pid", 0);
  }

  // `hearth serve` in the foreground of this test, with extra flags.
  void start_serve(const std::string& flags) {
    // Everything is prepared before fork: the child of a threaded process may only exec.
    const std::string cmd = "exec " +
                            hearth("serve --port " + std::to_string(port_) + " " + flags) + " > " +
                            (home_ / "serve.log").string() + " 2>&1";
    serve_pid_ = ::fork();
    if (serve_pid_ == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
      ::_exit(127);
    }
    httplib::Client client("127.0.0.1", port_);
    for (int i = 0; i < 200; ++i) {
      if (auto r = client.Get("/openai/status"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    FAIL() << "hearth serve did not start:\n" << testing::read_file(home_ / "serve.log");
  }
  httplib::Result chat(httplib::Client& client, const std::string& model) {
    json body = {
        {"model", model}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 4}};
    return client.Post("/v1/chat/completions", body.dump(), "application/json");
  }
  std::vector<std::string> loaded(httplib::Client& client) {
    auto r = client.Get("/openai/loadedmodels");
    if (!r || r->status != 200) return {};
    return json::parse(r->body).get<std::vector<std::string>>();
  }

  TestHub hub_;
  fs::path home_;
  int port_ = 0;
  pid_t serve_pid_ = -1;
};

TEST_F(Service, StartStatusStopLeaveNoProcessAndNoPidFile) {
  auto started = testing::run_shell(hearth("service start --port " + std::to_string(port_)));
  ASSERT_EQ(started.exit_code, 0) << started.output;
  auto pid = recorded_pid();
  ASSERT_TRUE(pid && *pid > 0);
  EXPECT_TRUE(process_alive(*pid));
  auto status = testing::run_shell(hearth("service status"));
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.output.find("http://127.0.0.1:" + std::to_string(port_)), std::string::npos)
      << status.output;
  auto ps = testing::run_shell(hearth("service ps"));
  EXPECT_EQ(ps.exit_code, 0) << ps.output;
  EXPECT_NE(ps.output.find("no model loaded"), std::string::npos) << ps.output;
  auto stopped = testing::run_shell(hearth("service stop"));
  EXPECT_EQ(stopped.exit_code, 0);
  EXPECT_FALSE(fs::exists(home_ / "service.json"));
  for (int i = 0; i < 50 && process_alive(*pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(process_alive(*pid));
  EXPECT_NE(testing::run_shell(hearth("service status")).exit_code, 0);
}

TEST_F(Service, StopIsCleanAfterTheServiceWasKilled) {
  ASSERT_EQ(testing::run_shell(hearth("service start --port " + std::to_string(port_))).exit_code,
            0);
  auto pid = recorded_pid();
  ASSERT_TRUE(pid);
  ::kill(*pid, SIGKILL);
  for (int i = 0; i < 50 && process_alive(*pid); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto status = testing::run_shell(hearth("service status"));
  EXPECT_NE(status.output.find("not running"), std::string::npos) << status.output;
  EXPECT_FALSE(fs::exists(home_ / "service.json"));  // the stale record is gone
  auto stopped = testing::run_shell(hearth("service stop"));
  EXPECT_EQ(stopped.exit_code, 0);
  EXPECT_NE(stopped.output.find("not running"), std::string::npos);
  // And it starts again on the same port.
  auto again = testing::run_shell(hearth("service start --port " + std::to_string(port_)));
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

TEST_F(Service, LogsPrintsTheTailAndFollowsWhatIsAppended) {
  const fs::path log = home_ / "service.log";
  std::ofstream(log) << "first\nsecond\nthird\n";
  auto tail = testing::run_shell(hearth("service logs -n 2"));
  EXPECT_EQ(tail.output, "second\nthird\n");
  // Waits on what the follower printed rather than sleeping a fixed time: a sanitized build
  // on a loaded machine can take over a second to start.
  const std::string out = testing::shell_quote((home_ / "followed.txt").string());
  const auto wait_for = [&](const std::string& text) {
    return "for i in $(seq 200); do grep -q " + text + " " + out +
           " 2>/dev/null && break; sleep 0.1; done; ";
  };
  const std::string follow = hearth("service logs -n 1 -f") + " > " + out + " & pid=$!; " +
                             wait_for("third") + "echo appended >> " +
                             testing::shell_quote(log.string()) + "; " + wait_for("appended") +
                             "kill $pid; cat " + out;
  auto followed = testing::run_shell("(" + follow + ")");
  EXPECT_EQ(followed.output, "third\nappended\n");
}

TEST_F(Service, ModelRunDownloadsLoadsAndStreamsAStoryInATerminal) {
  // `script` gives the command a pseudo-terminal, as a user's shell would.
  const std::string run =
      hearth("model run tinystories-260k -n 40 --port " + std::to_string(port_));
  auto r = testing::run_shell("printf 'Once upon a time\\n/bye\\n' | timeout 120 script -qec " +
                              testing::shell_quote(run) + " /dev/null");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("verified"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is loaded at http://127.0.0.1:" + std::to_string(port_)),
            std::string::npos)
      << r.output;
  // The story model writes lower-case English words.
  const auto loaded_at = r.output.find("/bye ends the chat");
  ASSERT_NE(loaded_at, std::string::npos);
  const std::string story = r.output.substr(loaded_at);
  int letters = 0;
  for (char c : story) letters += std::islower(static_cast<unsigned char>(c)) ? 1 : 0;
  EXPECT_GT(letters, 15) << story;
  auto ps = testing::run_shell(hearth("service ps"));
  EXPECT_NE(ps.output.find("tinystories-260k"), std::string::npos) << ps.output;
}

TEST_F(Service, LoadsOnDemandEvictsLeastRecentlyUsedAndUnloadsAfterTtl) {
  // Budget for about two of the three 12-16 MiB models (KV caches are small at -c 64).
  start_serve("--ttl 0 --memory-budget 40 -c 64 --parallel 1");
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(120, 0);
  EXPECT_TRUE(loaded(client).empty());
  for (const char* name :
       {"tiny-qwen2-q8_0", "tiny-llama3-q8_0", "tiny-phi3-q4_k_m"}) {  // fetch first
    auto r = client.Post("/openai/download", json{{"model", {{"Name", name}}}}.dump(),
                         "application/json");
    ASSERT_TRUE(r);
    ASSERT_NE(r->body.find(R"("success":true)"), std::string::npos) << r->body;
  }

  auto first = chat(client, "tiny-qwen2-q8_0");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(loaded(client), std::vector<std::string>{"tiny-qwen2-q8_0"});
  ASSERT_EQ(chat(client, "tiny-llama3-q8_0")->status, 200);
  ASSERT_EQ(chat(client, "tiny-qwen2-q8_0")->status, 200);  // qwen2 is now the most recent
  auto third = chat(client, "tiny-phi3-q4_k_m");
  ASSERT_TRUE(third);
  ASSERT_EQ(third->status, 200) << third->body;
  auto now_loaded = loaded(client);
  std::sort(now_loaded.begin(), now_loaded.end());
  EXPECT_EQ(now_loaded,
            (std::vector<std::string>{"tiny-phi3-q4_k_m", "tiny-qwen2-q8_0"}));  // llama3 evicted

  // A model loaded with a TTL goes once idle that long; the others (TTL 0) stay.
  auto load = client.Get("/openai/load/tinystories-260k?ttl=1");
  ASSERT_TRUE(load);
  ASSERT_EQ(load->status, 200) << load->body;
  EXPECT_EQ(loaded(client).size(), 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  now_loaded = loaded(client);
  std::sort(now_loaded.begin(), now_loaded.end());
  EXPECT_EQ(now_loaded, (std::vector<std::string>{"tiny-phi3-q4_k_m", "tiny-qwen2-q8_0"}));
  EXPECT_NE(
      testing::read_file(home_ / "serve.log").find("unloaded tinystories-260k (idle past its TTL)"),
      std::string::npos);
}

TEST_F(Service, ModelTooBigForTheBudgetGets507AndUnknownGets404) {
  start_serve("--memory-budget 1 -c 64");
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(120, 0);
  auto big = chat(client, "tiny-qwen2-q8_0");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 507) << big->body;
  EXPECT_NE(big->body.find("memory budget"), std::string::npos);
  auto typo = chat(client, "tiny-qwen3-q8_0");
  ASSERT_TRUE(typo);
  EXPECT_EQ(typo->status, 404);
  EXPECT_NE(typo->body.find("did you mean"), std::string::npos) << typo->body;
}

TEST_F(Service, FoundryManagementRoutes) {
  start_serve("-c 64");
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(120, 0);
  auto status = client.Get("/openai/status");
  ASSERT_TRUE(status);
  EXPECT_NE(status->body.find("Endpoints"), std::string::npos);
  auto list = client.Get("/foundry/list");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body).size(), 4u);
  EXPECT_EQ(client.Get("/openai/models")->body, "[]");

  // A page of another site cannot make this server download, load or unload (an <img> or a
  // form sends these without CORS); the browser says where the request comes from.
  const httplib::Headers cross_site{{"Sec-Fetch-Site", "cross-site"}};
  auto forged = client.Post("/openai/download", cross_site,
                            R"({"model":{"Name":"tinystories-260k"}})", "text/plain");
  ASSERT_TRUE(forged);
  EXPECT_EQ(forged->status, 403);
  EXPECT_EQ(client.Get("/openai/models")->body, "[]");

  auto download = client.Post("/openai/download", R"({"model":{"Name":"tinystories-260k"}})",
                              "application/json");
  ASSERT_TRUE(download);
  EXPECT_NE(download->body.find("Total 100.00% Downloading"), std::string::npos) << download->body;
  EXPECT_NE(download->body.find(R"("success":true)"), std::string::npos) << download->body;
  EXPECT_EQ(client.Get("/openai/models")->body, R"(["tinystories-260k:f32"])");

  EXPECT_EQ(client.Get("/openai/load/tinystories-260k?ttl=100", cross_site)->status, 403);
  EXPECT_TRUE(loaded(client).empty());
  auto load = client.Get("/openai/load/tinystories-260k?ttl=100",
                         httplib::Headers{{"Sec-Fetch-Site", "same-origin"}});
  ASSERT_TRUE(load);
  EXPECT_EQ(load->status, 200) << load->body;
  EXPECT_EQ(loaded(client), std::vector<std::string>{"tinystories-260k"});
  auto details = json::parse(client.Get("/hearth/loaded")->body);
  EXPECT_GT(details["models"][0]["memory_bytes"].get<uint64_t>(), 1000000u);
  EXPECT_LE(details["models"][0]["ttl_left_seconds"].get<int>(), 100);
  EXPECT_EQ(client.Get("/openai/load/tinystories-260k?ttl=soon")->status, 400);
  EXPECT_EQ(client.Get("/openai/unload/tinystories-260k", cross_site)->status, 403);
  EXPECT_EQ(loaded(client), std::vector<std::string>{"tinystories-260k"});
  EXPECT_EQ(client.Get("/openai/unload/tinystories-260k")->status, 200);
  EXPECT_TRUE(loaded(client).empty());
  EXPECT_EQ(client.Get("/openai/unload/tinystories-260k")->status, 404);
}

}  // namespace
}  // namespace hearth
