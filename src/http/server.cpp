// The event loop behind hearth::http::Server: accepting, the connection table, the deadline
// sweep, draining, TLS setup, and the checks made before a handler runs (API key, CORS,
// routing). connection.cpp holds what happens on one connection.
#include "http/server.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <asio.hpp>
#include <asio/ssl.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "http/connection.h"
#include "http/worker_pool.h"

namespace hearth::http {
namespace {

using asio::ip::tcp;

constexpr auto kSweepEvery = std::chrono::milliseconds(250);
// Connections beyond max_connections still get their 503 up to this many more; past that a
// new connection is closed at once (a flood must not cost a write each).
constexpr size_t kRefusalSlack = 1024;

Response default_error(const TransportError& error) {
  std::string body = R"({"error":{"message":")";
  for (char c : error.message) {
    if (c == '"' || c == '\\') body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) body += c;
  }
  body += R"(","code":")" + error.code + R"("}})";
  return Response::json(error.status, std::move(body));
}

bool constant_time_key_match(const std::vector<std::string>& keys, std::string_view key) {
  // Compare against every key without stopping early, so timing says nothing about which
  // prefix matched.
  bool match = false;
  for (const auto& candidate : keys) {
    unsigned diff = candidate.size() ^ key.size();
    for (size_t i = 0; i < candidate.size(); ++i) {
      diff |= static_cast<unsigned char>(candidate[i]) ^
              static_cast<unsigned char>(i < key.size() ? key[i] : 0);
    }
    match |= diff == 0;
  }
  return match;
}

// Raises the soft open-file limit to the hard one: each connection is a descriptor, and the
// usual soft limit (1024) is far below what the loop can hold. Returns the limit now in force.
size_t raise_open_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<size_t>(limit.rlim_cur);
}

}  // namespace

struct Server::Impl final : ConnectionHost {
  explicit Impl(Server& server) : server(server) {}

  // ConnectionHost
  asio::io_context& io() override { return loop; }
  WorkerPool& workers() override { return *pool; }
  const ServerOptions& options() const override { return server.options_; }
  const Router& router() const override { return server.router_; }
  std::optional<Response> screen(const Request& request, RouteMatch& match) const override;
  void add_cors_headers(const Request& request, Headers& out) const override;
  static bool host_allowed(std::string_view host, const std::vector<std::string>& allowed);
  Response render_error(const TransportError& error) const override {
    Response res = server.options_.render_error(error);
    if (error.retry_after_seconds > 0 && !res.headers.has("Retry-After")) {
      res.headers.set("Retry-After", std::to_string(error.retry_after_seconds));
    }
    return res;
  }
  bool draining() const override { return draining_flag.load(std::memory_order_relaxed); }
  std::pair<char*, size_t> read_buffer() override { return {scratch.get(), kScratchBytes}; }
  void forget(Connection* connection) override {
    connections.erase(connection);
    open_connections.store(static_cast<int>(connections.size()), std::memory_order_relaxed);
  }

  std::string spool_path() override {
    static std::atomic<uint64_t> counter{0};
    return spool_dir + "/hearth-body-" + std::to_string(::getpid()) + "-" +
           std::to_string(counter.fetch_add(1)) + ".part";
  }

  void accept_next();
  void on_accept(const asio::error_code& error, tcp::socket socket);
  void sweep();
  void begin_drain(std::chrono::milliseconds timeout);
  void close_everything();
  std::vector<std::shared_ptr<Connection>> snapshot() const {
    std::vector<std::shared_ptr<Connection>> all;
    all.reserve(connections.size());
    for (const auto& [raw, owned] : connections) all.push_back(owned);
    return all;
  }

  static constexpr size_t kScratchBytes = 64 * 1024;
  Server& server;
  asio::io_context loop{1};
  std::optional<tcp::acceptor> acceptor;
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<WorkerPool> pool;
  asio::steady_timer sweep_timer{loop};
  asio::steady_timer accept_retry{loop};
  std::unique_ptr<char[]> scratch = std::make_unique<char[]>(kScratchBytes);
  // Owned here; a Connection's async operations hold it too, so it outlives its last callback.
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections;
  size_t max_connections = 0;
  std::atomic<int> open_connections{0};
  std::atomic<bool> draining_flag{false};
  std::atomic<bool> running{false};
  Clock::time_point drain_deadline = Clock::time_point::max();
  std::mutex stop_mutex;  // orders stop() against listen() starting and ending
  bool stop_requested = false;
  std::chrono::milliseconds requested_drain{0};
  std::string spool_dir;
};

std::optional<Response> Server::Impl::screen(const Request& request, RouteMatch& match) const {
  const ServerOptions& o = server.options_;
  if (request.method == "OPTIONS") {  // CORS preflight: answered here, never needs a key
    Response res;
    res.status = 204;
    res.content_type.clear();
    return res;
  }
  if (o.require_loopback_host) {
    const auto host = request.header("Host");
    if (host && !host_allowed(*host, o.allowed_hosts)) {
      return render_error({403, "forbidden_host",
                           "Host '" + std::string(host->substr(0, 200)) +
                               "' is not allowed: this server listens on a loopback address "
                               "(start it with --allowed-host NAME to accept that name)"});
    }
  }
  if (!o.api_keys.empty() && !server.is_public(request.path)) {
    const auto header = request.header("Authorization");
    constexpr std::string_view kBearer = "Bearer ";
    const bool bearer = header && header->size() > kBearer.size() && header->starts_with(kBearer);
    if (!bearer || !constant_time_key_match(o.api_keys, header->substr(kBearer.size()))) {
      return render_error({401, "unauthorized", "Incorrect or missing API key."});
    }
  }
  match = server.router_.match(request.method, request.path);
  if (match.outcome == RouteMatch::Outcome::kNotFound) {
    return render_error(
        {404, "not_found", "Unknown route: " + request.method + " " + request.path});
  }
  if (match.outcome == RouteMatch::Outcome::kMethodNotAllowed) {
    std::string allow;
    for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
    Response res = render_error(
        {405, "method_not_allowed", "Method not allowed: " + request.method + " " + request.path});
    res.headers.set("Allow", allow);
    return res;
  }
  return std::nullopt;
}

namespace {

// The name part of a Host header: "[::1]:8000" -> "::1", "Example.COM:80" -> "example.com".
std::string host_name(std::string_view host) {
  std::string_view name = host;
  const bool bare_ipv6 = std::count(name.begin(), name.end(), ':') > 1 && !name.starts_with('[');
  if (bare_ipv6) {
    // "::1" as given to --host; a Host header always brackets an IPv6 address.
  } else if (name.starts_with('[')) {
    const size_t close = name.find(']');
    if (close == std::string_view::npos) return {};  // malformed: names nothing
    name = name.substr(1, close - 1);
  } else if (const size_t colon = name.rfind(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!out.empty() && out.back() == '.') out.pop_back();  // "localhost." is localhost
  return out;
}

bool is_ipv4_loopback(std::string_view name) {
  if (!name.starts_with("127.")) return false;
  int parts = 0;
  for (size_t start = 0; start <= name.size();) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    const std::string_view part = name.substr(start, end - start);
    if (part.empty() || part.size() > 3 ||
        !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

}  // namespace

bool Server::is_loopback_host(std::string_view host) {
  const std::string name = host_name(host);
  return name == "localhost" || name.ends_with(".localhost") || name == "::1" ||
         is_ipv4_loopback(name);
}

bool Server::Impl::host_allowed(std::string_view host, const std::vector<std::string>& allowed) {
  if (Server::is_loopback_host(host)) return true;
  const std::string name = host_name(host);
  for (const std::string& entry : allowed) {
    if (entry == "*" || host_name(entry) == name) return true;
  }
  return false;
}

bool Server::is_loopback_origin(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!origin.starts_with(scheme)) continue;
    std::string_view rest = origin.substr(scheme.size());
    for (std::string_view host : {"localhost", "127.0.0.1", "[::1]"}) {
      if (!rest.starts_with(host)) continue;
      std::string_view port = rest.substr(host.size());
      if (port.empty()) return true;
      if (port[0] != ':' || port.size() < 2 || port.size() > 6) return false;
      return std::all_of(port.begin() + 1, port.end(), [](char c) { return c >= '0' && c <= '9'; });
    }
  }
  return false;
}

void Server::Impl::add_cors_headers(const Request& request, Headers& out) const {
  const auto& origins = server.options_.cors_origins;
  const bool loopback = server.options_.allow_loopback_origins;
  if (origins.empty() && !loopback) return;
  const auto origin = request.header("Origin");
  if (!origin || origin->empty()) return;
  const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
  const bool listed = std::find(origins.begin(), origins.end(), *origin) != origins.end() ||
                      (loopback && Server::is_loopback_origin(*origin));
  if (!any && !listed) return;
  out.set("Access-Control-Allow-Origin", any ? "*" : std::string(*origin));
  if (!any) out.set("Vary", "Origin");
  out.set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  out.set("Access-Control-Allow-Headers",
          "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-*, *");
  out.set("Access-Control-Max-Age", "600");
}

void Server::Impl::accept_next() {
  if (!acceptor || !acceptor->is_open()) return;
  acceptor->async_accept([this](const asio::error_code& error, tcp::socket socket) {
    on_accept(error, std::move(socket));
  });
}

void Server::Impl::on_accept(const asio::error_code& error, tcp::socket socket) {
  if (!acceptor || !acceptor->is_open() || draining()) return;
  if (error) {
    if (error == asio::error::operation_aborted) return;
    // Out of descriptors or memory: back off briefly instead of spinning on the error.
    accept_retry.expires_after(std::chrono::milliseconds(50));
    accept_retry.async_wait([this](const asio::error_code& e) {
      if (!e) accept_next();
    });
    return;
  }
  asio::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (connections.size() >= max_connections + kRefusalSlack) {
    socket.close(ignored);
    return accept_next();
  }
  const bool over = connections.size() >= max_connections;
  std::unique_ptr<ByteStream> stream =
      tls ? make_tls_stream(std::move(socket), *tls) : make_plain_stream(std::move(socket), *this);
  auto connection = std::make_shared<Connection>(*this, std::move(stream));
  connections.emplace(connection.get(), connection);
  open_connections.store(static_cast<int>(connections.size()), std::memory_order_relaxed);
  if (!over) {
    connection->start();
  } else if (tls) {
    connection->close_now();  // a 503 would need a handshake first; refuse cheaply
  } else {
    connection->refuse(render_error(
        {503, "server_busy", "The server holds as many connections as it may; retry.", 1}));
  }
  accept_next();
}

void Server::Impl::sweep() {
  const auto now = Clock::now();
  for (const auto& connection : snapshot()) connection->check_deadline(now);
  if (draining()) {
    if (connections.empty() || now >= drain_deadline) {
      close_everything();
      loop.stop();
      return;
    }
  }
  sweep_timer.expires_after(kSweepEvery);
  sweep_timer.async_wait([this](const asio::error_code& e) {
    if (!e) sweep();
  });
}

void Server::Impl::begin_drain(std::chrono::milliseconds timeout) {
  if (draining()) return;
  draining_flag = true;
  drain_deadline = Clock::now() + timeout;
  asio::error_code ignored;
  if (acceptor) acceptor->close(ignored);
  accept_retry.cancel();
  for (const auto& connection : snapshot()) connection->drain();
  if (connections.empty()) {
    loop.stop();
    return;
  }
  // The sweep (at most kSweepEvery away) stops the loop once the rest have finished.
}

void Server::Impl::close_everything() {
  for (const auto& connection : snapshot()) connection->close_now();
  connections.clear();
  open_connections = 0;
}

Server::Server(ServerOptions options, Router router)
    : options_(std::move(options)),
      router_(std::move(router)),
      impl_(std::make_unique<Impl>(*this)) {
  if (!options_.render_error) options_.render_error = default_error;
}

Server::~Server() {
  stop();
}

bool Server::is_public(std::string_view path) const {
  for (const auto& p : options_.public_paths) {
    if (path == p) return true;
  }
  for (const auto& prefix : options_.public_prefixes) {
    if (path.starts_with(prefix)) return true;
  }
  return false;
}

int Server::connections() const {
  return impl_->open_connections.load(std::memory_order_relaxed);
}

Status Server::listen() {
  Impl& impl = *impl_;
  if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
    if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
      return invalid_input("TLS needs both a certificate and a key file");
    }
    auto context = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
    asio::error_code error;
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                             asio::ssl::context::no_tlsv1_1,
                         error);
    context->use_certificate_chain_file(options_.tls_cert_file, error);
    if (error) {
      return invalid_input("cannot use TLS certificate " + options_.tls_cert_file + ": " +
                           error.message());
    }
    context->use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, error);
    if (error) {
      return invalid_input("cannot use TLS key " + options_.tls_key_file + ": " + error.message());
    }
    impl.tls = std::move(context);
  }

  asio::error_code error;
  tcp::resolver resolver(impl.loop);
  const auto endpoints =
      resolver.resolve(options_.host, std::to_string(options_.port), tcp::resolver::passive, error);
  if (error || endpoints.empty()) {
    return unavailable("cannot resolve " + options_.host + ": " + error.message());
  }
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  tcp::acceptor acceptor(impl.loop);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                       " (is another server using the port?): " + error.message());
  }
  bound_port_ = acceptor.local_endpoint().port();
  impl.acceptor.emplace(std::move(acceptor));

  // Leave room for model files, logs and the process's other descriptors.
  const size_t open_files = raise_open_file_limit();
  impl.max_connections =
      std::min<size_t>(static_cast<size_t>(std::max(1, options_.max_connections)),
                       open_files > 256 ? open_files - 128 - kRefusalSlack / 4 : 64);
  impl.spool_dir = options_.spool_dir;
  if (impl.spool_dir.empty()) {
    std::error_code ec;
    impl.spool_dir = std::filesystem::temp_directory_path(ec).string();
    if (ec || impl.spool_dir.empty()) impl.spool_dir = "/tmp";
  }
  const int min_workers = static_cast<int>(std::max(4u, std::thread::hardware_concurrency()));
  impl.pool =
      std::make_unique<WorkerPool>(min_workers, std::max(min_workers, options_.worker_threads));

  {
    std::lock_guard lock(impl.stop_mutex);
    if (impl.stop_requested) {  // stop() came before the loop: serve nothing
      impl.acceptor.reset();
      impl.pool->stop();
      return ok();
    }
    impl.running = true;
  }
  impl.accept_next();
  impl.sweep();
  try {
    impl.loop.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth http: event loop stopped: %s\n", e.what());
  }
  impl.close_everything();
  impl.acceptor.reset();
  // Handlers still running finish on their threads; their answers have nowhere to go.
  impl.pool->stop();
  {
    std::lock_guard lock(impl.stop_mutex);
    impl.running = false;
  }
  impl.loop.restart();
  impl.loop.poll();  // run the callbacks queued after the loop stopped, releasing their captures
  return ok();
}

void Server::stop(std::chrono::milliseconds drain_timeout) {
  if (!impl_) return;
  Impl& impl = *impl_;
  std::lock_guard lock(impl.stop_mutex);
  if (impl.stop_requested) return;
  impl.stop_requested = true;
  if (!impl.running) return;
  asio::post(impl.loop, [&impl, drain_timeout] { impl.begin_drain(drain_timeout); });
}

bool Server::is_running() const {
  return impl_ && impl_->running.load();
}

}  // namespace hearth::http
