#include "cli/service_client.h"

#include <fcntl.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace hearth::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A live `hearth serve` process: not a zombie, and its command line says serve.
bool is_service_process(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] == 'Z')
    return false;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return args.find(std::string("serve") + '\0') != std::string::npos;
}

std::string log_tail(const fs::path& log, size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string l; std::getline(in, l);) all.push_back(l);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "  " + all[i] + "\n";
  return out;
}

}  // namespace

fs::path service_state_path(const fs::path& home) {
  return home / "service.json";
}
fs::path service_log_path(const fs::path& home) {
  return home / "service.log";
}
std::string endpoint_url(const ServiceState& s) {
  return "http://127.0.0.1:" + std::to_string(s.port);
}

std::optional<ServiceState> running_service(const fs::path& home) {
  std::ifstream in(service_state_path(home));
  if (!in) return std::nullopt;
  json doc = json::parse(in, nullptr, false);
  ServiceState s;
  if (doc.is_object() && doc.value("pid", 0) > 0 && doc.value("port", 0) > 0) {
    s.pid = doc["pid"].get<pid_t>();
    s.port = doc["port"].get<int>();
    if (is_service_process(s.pid)) return s;
  }
  std::error_code ec;
  fs::remove(service_state_path(home), ec);  // stale: its process is gone
  return std::nullopt;
}

Result<ServiceState> start_service(const fs::path& home, int port,
                                   const std::vector<std::string>& extra_args) {
  std::error_code ec;
  fs::create_directories(home, ec);
  const fs::path log = service_log_path(home);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return fail("cannot open " + log.string());
  std::vector<std::string> args = {"hearth", "serve", "--port", std::to_string(port)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // The record is written only once the child runs `hearth serve`: until its exec, the child
  // still looks like `hearth service start`, and a concurrent `service status` would take the
  // record for a stale one and delete it. The pipe closes on exec (O_CLOEXEC), or carries the
  // exec's errno.
  int exec_pipe[2];
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return fail("cannot create a pipe for the service process");
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    ::close(exec_pipe[0]);
    ::close(exec_pipe[1]);
    return fail("cannot fork the service process");
  }
  if (pid == 0) {
    ::setsid();  // its own session: no terminal, not killed with the shell that started it
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv("/proc/self/exe", argv.data());
    const int error = errno;
    (void)!::write(exec_pipe[1], &error, sizeof(error));
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(exec_pipe[1]);
  int exec_error = 0;
  ssize_t got;
  do {
    got = ::read(exec_pipe[0], &exec_error, sizeof(exec_error));
  } while (got < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  if (got > 0) {
    ::waitpid(pid, nullptr, 0);
    return fail(std::string("cannot run the service process: ") + std::strerror(exec_error));
  }
  ServiceState s{pid, port};
  {
    std::ofstream out(service_state_path(home), std::ios::trunc);
    out << json{{"pid", pid}, {"port", port}}.dump() << "\n";
  }
  for (int i = 0; i < 600; ++i) {  // up to 60 s
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      fs::remove(service_state_path(home), ec);
      return fail("the service exited during start; the end of " + log.string() + ":\n" +
                  log_tail(log, 8));
    }
    auto reply = service_request(s, "GET", "/openai/status", {}, 2);
    if (reply && reply->status == 200) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  fs::remove(service_state_path(home), ec);
  return fail("the service did not answer within 60 s; the end of " + log.string() + ":\n" +
              log_tail(log, 8));
}

Result<bool> stop_service(const fs::path& home) {
  auto s = running_service(home);
  if (!s) return false;
  ::kill(s->pid, SIGTERM);
  for (int i = 0; i < 150 && is_service_process(s->pid); ++i) {
    ::waitpid(s->pid, nullptr, WNOHANG);  // reaps it when we are its parent
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (is_service_process(s->pid)) {
    ::kill(s->pid, SIGKILL);
    ::waitpid(s->pid, nullptr, WNOHANG);
  }
  std::error_code ec;
  fs::remove(service_state_path(home), ec);
  return true;
}

Result<HttpReply> service_request(const ServiceState& s, const std::string& method,
                                  const std::string& path, const std::string& body,
                                  int timeout_seconds,
                                  const std::function<bool(const char*, size_t)>& on_chunk) {
  httplib::Client client("127.0.0.1", s.port);
  client.set_connection_timeout(2, 0);
  client.set_read_timeout(timeout_seconds, 0);
  client.set_write_timeout(timeout_seconds, 0);
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.body = body;
  if (!body.empty()) req.set_header("Content-Type", "application/json");
  HttpReply reply;
  if (on_chunk) {
    // The status arrives before the body: error bodies are kept, not streamed to on_chunk.
    req.response_handler = [&](const httplib::Response& r) {
      reply.status = r.status;
      return true;
    };
    req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      if (reply.status != 200) {
        reply.body.append(data, n);
        return true;
      }
      return on_chunk(data, n);
    };
  }
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  if (!client.send(req, res, error)) {
    return fail("cannot reach the hearth service at " + endpoint_url(s) + " (" +
                httplib::to_string(error) + ")");
  }
  reply.status = res.status;
  if (!on_chunk) reply.body = res.body;
  return reply;
}

std::string error_text(const HttpReply& reply) {
  json doc = json::parse(reply.body, nullptr, false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    return doc["error"].value("message", reply.body);
  }
  return "HTTP " + std::to_string(reply.status) + ": " + reply.body;
}

}  // namespace hearth::cli
