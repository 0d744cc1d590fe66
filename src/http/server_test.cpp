// The event-driven server over real sockets: framing, keep-alive and pipelining, deadlines,
// the connection bound, streaming with backpressure, hang-up detection and draining.
#include "http/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace hearth::http {
namespace {

using namespace std::chrono_literals;

// A server on a free port, its loop on a thread of its own.
class RunningServer {
 public:
  RunningServer(ServerOptions options, Router router) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(std::move(options), std::move(router));
    thread_ = std::thread([this] { status_ = server_->listen(); });
    for (int i = 0; i < 500 && server_->bound_port() == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_NE(server_->bound_port(), 0);
  }
  ~RunningServer() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    server_->stop(2s);
    thread_.join();
  }
  int port() const { return server_->bound_port(); }
  Server& server() { return *server_; }

 private:
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status status_ = ok();
};

class Client {
 public:
  explicit Client(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  // Reads until `until` appears in what was read, the peer closes, or `timeout` passes.
  std::string read_until(std::string_view until, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received_.find(until) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms || !read_some(left)) break;
    }
    return received_;
  }
  // True when the peer closed the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      received_.append(buf, static_cast<size_t>(n));
    }
  }
  const std::string& received() const { return received_; }

 private:
  bool read_some(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    received_.append(buf, static_cast<size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string received_;
};

Router basic_router() {
  Router router;
  router.get("/health", [](Request&) { return Response::json(200, R"({"status":"ok"})"); });
  router.get("/echo", [](Request& r) {
    return Response::text(200, r.query_param("x").value_or(""), "text/plain");
  });
  router.post("/body", [](Request& r) { return Response::text(200, r.body, "text/plain"); });
  router.get("/throw", [](Request&) -> Response { throw std::runtime_error("boom"); });
  return router;
}

TEST(HttpServer, LoopbackOriginsAreRecognizedExactly) {
  for (const char* origin : {"http://localhost", "http://localhost:3000", "http://127.0.0.1:8080",
                             "http://[::1]:11434", "https://localhost:443"}) {
    EXPECT_TRUE(Server::is_loopback_origin(origin)) << origin;
  }
  for (const char* origin : {"http://localhost.evil.example", "http://localhost:3000.evil.example",
                             "http://evil.example", "http://127.0.0.1.nip.io",
                             "http://localhost:", "http://localhost:12a", "file://localhost",
                             "http://[::1]x", "", "null", "http://localhost:1234567"}) {
    EXPECT_FALSE(Server::is_loopback_origin(origin)) << origin;
  }
}

TEST(HttpServer, AnswersKeepAliveAndPipelinedRequestsInOrder) {
  RunningServer server({}, basic_router());
  Client client(server.port());
  ASSERT_TRUE(client.connected());
  client.send("GET /echo?x=first HTTP/1.1\r\nHost: a\r\n\r\nGET /echo?x=second HTTP/1.1\r\n\r\n");
  const std::string both = client.read_until("second");
  const size_t first = both.find("first");
  const size_t second = both.find("second");
  ASSERT_NE(first, std::string::npos) << both;
  ASSERT_NE(second, std::string::npos) << both;
  EXPECT_LT(first, second);
  EXPECT_EQ(both.find("Connection: close"), std::string::npos);
  // The same connection serves a third request afterwards.
  client.send("POST /body HTTP/1.1\r\nContent-Length: 5\r\n\r\nthird");
  EXPECT_NE(client.read_until("third").find("third"), std::string::npos);
}

TEST(HttpServer, ReadsChunkedBodiesAndAnswersExpectContinue) {
  RunningServer server({}, basic_router());
  Client client(server.port());
  client.send("POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_NE(client.read_until("100 Continue").find("HTTP/1.1 100 Continue"), std::string::npos);
  client.send("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_NE(client.read_until("abcde").find("Content-Length: 5"), std::string::npos);
}

TEST(HttpServer, RefusesMalformedRequestsWithAStatusAndCloses) {
  RunningServer server({}, basic_router());
  Client client(server.port());
  client.send("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n");
  EXPECT_TRUE(client.closed_within(5s));
  EXPECT_EQ(client.received().rfind("HTTP/1.1 400 ", 0), 0u) << client.received();
  EXPECT_NE(client.received().find("Connection: close"), std::string::npos);
}

TEST(HttpServer, RoutesErrorsAndHandlerExceptions) {
  RunningServer server({}, basic_router());
  Client client(server.port());
  client.send("GET /nope HTTP/1.1\r\n\r\n");
  EXPECT_NE(client.read_until("}").find("HTTP/1.1 404 "), std::string::npos);
  Client post(server.port());
  post.send("POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  const std::string reply = post.read_until("}");
  EXPECT_NE(reply.find("HTTP/1.1 405 "), std::string::npos) << reply;
  EXPECT_NE(reply.find("Allow: GET"), std::string::npos) << reply;
  Client thrower(server.port());
  thrower.send("GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_NE(thrower.read_until("}").find("HTTP/1.1 500 "), std::string::npos);
}

TEST(HttpServer, RequiresTheApiKeyExceptOnPublicPaths) {
  ServerOptions options;
  options.api_keys = {"sekret"};
  options.public_paths = {"/health"};
  RunningServer server(options, basic_router());
  Client none(server.port());
  none.send("GET /echo?x=1 HTTP/1.1\r\n\r\n");
  EXPECT_NE(none.read_until("}").find("HTTP/1.1 401 "), std::string::npos);
  Client keyed(server.port());
  keyed.send("GET /echo?x=1 HTTP/1.1\r\nAuthorization: Bearer sekret\r\n\r\n");
  EXPECT_NE(keyed.read_until("\r\n\r\n1").find("HTTP/1.1 200 "), std::string::npos);
  Client health(server.port());
  health.send("GET /health HTTP/1.1\r\n\r\n");
  EXPECT_NE(health.read_until("}").find("HTTP/1.1 200 "), std::string::npos);
}

TEST(HttpServer, KnowsLoopbackHostNames) {
  for (const char* host : {"localhost", "LOCALHOST:8000", "localhost.", "app.localhost:1",
                           "127.0.0.1", "127.0.0.1:8000", "127.1.2.3:80", "[::1]", "[::1]:8000",
                           "::1"}) {
    EXPECT_TRUE(Server::is_loopback_host(host)) << host;
  }
  for (const char* host : {"evil.example", "evil.example:8000", "localhost.evil.example",
                           "127.0.0.1.evil.example", "127.0.0.256", "127.0.0", "[::2]:80",
                           "10.0.0.1:8000", "", "[::1", "0.0.0.0"}) {
    EXPECT_FALSE(Server::is_loopback_host(host)) << host;
  }
}

TEST(HttpServer, RefusesForeignHostNamesWhenBoundToLoopback) {
  ServerOptions options;
  options.require_loopback_host = true;
  options.allowed_hosts = {"proxy.lan"};
  RunningServer server(options, basic_router());
  const auto status_for = [&](const std::string& host_line) {
    Client client(server.port());
    client.send("GET /health HTTP/1.1\r\n" + host_line + "\r\n");
    const std::string reply = client.read_until("}");
    return reply.substr(0, 12);
  };
  EXPECT_EQ(status_for("Host: evil.example:8000\r\n"), "HTTP/1.1 403");
  EXPECT_EQ(status_for("Host: 127.0.0.1.evil.example\r\n"), "HTTP/1.1 403");
  EXPECT_EQ(status_for("Host: localhost:8000\r\n"), "HTTP/1.1 200");
  EXPECT_EQ(status_for("Host: [::1]:8000\r\n"), "HTTP/1.1 200");
  EXPECT_EQ(status_for("Host: PROXY.lan\r\n"), "HTTP/1.1 200");
  EXPECT_EQ(status_for(""), "HTTP/1.1 200");  // HTTP/1.0-style clients send no Host

  ServerOptions open_options;  // bound to an interface: every name is accepted
  RunningServer open(open_options, basic_router());
  Client client(open.port());
  client.send("GET /health HTTP/1.1\r\nHost: evil.example\r\n\r\n");
  EXPECT_EQ(client.read_until("}").substr(0, 12), "HTTP/1.1 200");
}

TEST(HttpServer, HalfOpenConnectionsDoNotDelayOthers) {
  ServerOptions options;
  options.header_timeout_seconds = 60;  // they stay for the whole test
  RunningServer server(options, basic_router());
  std::vector<std::unique_ptr<Client>> stuck;
  for (int i = 0; i < 200; ++i) {
    stuck.push_back(std::make_unique<Client>(server.port()));
    stuck.back()->send("POST /body HTTP/1.1\r\nHost: x\r\nContent-Len");
  }
  Client health(server.port());
  health.send("GET /health HTTP/1.1\r\n\r\n");
  // Long before any deadline frees a thread (there are none to free).
  EXPECT_NE(health.read_until("}", 5s).find("HTTP/1.1 200 "), std::string::npos);
}

TEST(HttpServer, ClosesASlowHeaderClientAfterTheDeadlineWith408) {
  ServerOptions options;
  options.header_timeout_seconds = 1;
  RunningServer server(options, basic_router());
  Client slow(server.port());
  slow.send("GET /health HTTP/1.1\r\nHo");
  EXPECT_TRUE(slow.closed_within(10s));
  EXPECT_EQ(slow.received().rfind("HTTP/1.1 408 ", 0), 0u) << slow.received();
}

TEST(HttpServer, AnswersBeyondTheConnectionBoundWith503) {
  ServerOptions options;
  options.max_connections = 3;
  RunningServer server(options, basic_router());
  std::vector<std::unique_ptr<Client>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Client>(server.port()));
    held.back()->send("GET /health HTTP/1.1\r\n\r\n");
    ASSERT_NE(held.back()->read_until("}").find("200"), std::string::npos);
  }
  Client extra(server.port());
  EXPECT_TRUE(extra.closed_within(5s));
  EXPECT_EQ(extra.received().rfind("HTTP/1.1 503 ", 0), 0u) << extra.received();
  EXPECT_NE(extra.received().find("Retry-After: 1"), std::string::npos);
  held.front()->close();
  // Once one leaves, a new client is served again.
  for (int i = 0; i < 100; ++i) {
    Client next(server.port());
    next.send("GET /health HTTP/1.1\r\n\r\n");
    if (next.read_until("}", 2s).find("HTTP/1.1 200 ") != std::string::npos) return;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "no connection was served after one closed";
}

TEST(HttpServer, HandlerSeesTheClientHangUp) {
  std::atomic<int> seen{-1};
  Router router = basic_router();
  router.get("/wait", [&](Request& r) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!r.client_gone() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(10ms);
    }
    seen = r.client_gone() ? 1 : 0;
    return Response::json(200, "{}");
  });
  RunningServer server({}, std::move(router));
  {
    Client client(server.port());
    client.send("GET /wait HTTP/1.1\r\n\r\n");
    std::this_thread::sleep_for(100ms);
  }
  for (int i = 0; i < 500 && seen < 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(seen.load(), 1);
}

TEST(HttpServer, WaitingHandlersDoNotBlockOthers) {
  std::mutex mutex;
  std::condition_variable released;
  bool release = false;
  Router router = basic_router();
  router.get("/block", [&](Request&) {
    std::unique_lock lock(mutex);
    released.wait_for(lock, 20s, [&] { return release; });
    return Response::json(200, "{}");
  });
  RunningServer server({}, std::move(router));
  std::vector<std::unique_ptr<Client>> blocked;
  for (int i = 0; i < 64; ++i) {
    blocked.push_back(std::make_unique<Client>(server.port()));
    blocked.back()->send("GET /block HTTP/1.1\r\n\r\n");
  }
  Client health(server.port());
  health.send("GET /health HTTP/1.1\r\n\r\n");
  EXPECT_NE(health.read_until("}", 10s).find("HTTP/1.1 200 "), std::string::npos);
  {
    std::lock_guard lock(mutex);
    release = true;
  }
  released.notify_all();
  for (auto& c : blocked) EXPECT_NE(c->read_until("{}").find("HTTP/1.1 200 "), std::string::npos);
}

// An event source like a generation: events published from another thread.
struct Events {
  std::mutex mutex;
  std::vector<std::string> queue;
  std::function<void()> wake;
  bool finished = false;

  void publish(std::string event, bool last = false) {
    std::function<void()> w;
    {
      std::lock_guard lock(mutex);
      queue.push_back(std::move(event));
      finished = finished || last;
      w.swap(wake);
    }
    if (w) w();
  }
};

TEST(HttpServer, StreamsEventsAsTheyArriveWithoutHoldingAThread) {
  auto events = std::make_shared<Events>();
  std::atomic<int> closed_with{-1};
  std::atomic<int> produce_calls{0};
  Router router;
  router.get("/events", [&, events](Request&) {
    StreamBody body;
    body.produce = [events, &produce_calls](StreamWriter& out) {
      ++produce_calls;
      std::vector<std::string> ready;
      bool finished = false;
      {
        std::lock_guard lock(events->mutex);
        ready.swap(events->queue);
        finished = events->finished;
      }
      for (const auto& e : ready) {
        if (!out.write("data: " + e + "\n\n")) return false;
      }
      return !finished;
    };
    body.poll_ready = [events](std::function<void()> wake) {
      std::lock_guard lock(events->mutex);
      if (!events->queue.empty()) return true;
      events->wake = std::move(wake);
      return false;
    };
    body.on_close = [&closed_with](bool completed) { closed_with = completed ? 1 : 0; };
    return Response::streamed("text/event-stream", std::move(body));
  });
  RunningServer server({}, std::move(router));
  Client client(server.port());
  client.send("GET /events HTTP/1.1\r\n\r\n");
  EXPECT_NE(client.read_until("\r\n\r\n").find("Transfer-Encoding: chunked"), std::string::npos);
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(100ms);
    events->publish("event" + std::to_string(i), i == 4);
  }
  const std::string all = client.read_until("\r\n0\r\n\r\n");
  for (int i = 0; i < 5; ++i) {
    EXPECT_NE(all.find("data: event" + std::to_string(i)), std::string::npos) << all;
  }
  for (int i = 0; i < 200 && closed_with < 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_with.load(), 1);
  // The producer ran when there was something to send, not in a polling loop.
  EXPECT_LE(produce_calls.load(), 6);
}

TEST(HttpServer, DropsAStreamWhoseClientStopsReading) {
  std::atomic<int> closed_with{-1};
  Router router;
  router.get("/flood", [&](Request&) {
    StreamBody body;
    body.produce = [](StreamWriter& out) { return out.write(std::string(64 * 1024, 'x')); };
    body.poll_ready = [](std::function<void()>) { return true; };
    body.on_close = [&closed_with](bool completed) { closed_with = completed ? 1 : 0; };
    return Response::streamed("application/octet-stream", std::move(body));
  });
  router.get("/health", [](Request&) { return Response::json(200, "{}"); });
  ServerOptions options;
  options.write_timeout_seconds = 1;
  RunningServer server(options, std::move(router));
  Client lazy(server.port());
  lazy.send("GET /flood HTTP/1.1\r\n\r\n");  // and never reads
  for (int i = 0; i < 1500 && closed_with < 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(closed_with.load(), 0);
  Client other(server.port());
  other.send("GET /health HTTP/1.1\r\n\r\n");
  EXPECT_NE(other.read_until("{}").find("HTTP/1.1 200 "), std::string::npos);
}

TEST(HttpServer, StopLetsAnswersInProgressFinish) {
  std::atomic<bool> started{false};
  Router router = basic_router();
  router.get("/slow", [&](Request&) {
    started = true;
    std::this_thread::sleep_for(300ms);
    return Response::json(200, R"({"done":true})");
  });
  RunningServer server({}, std::move(router));
  Client idle(server.port());
  Client busy(server.port());
  busy.send("GET /slow HTTP/1.1\r\n\r\n");
  for (int i = 0; i < 200 && !started; ++i) std::this_thread::sleep_for(5ms);
  server.server().stop(5s);
  EXPECT_NE(busy.read_until("true}").find(R"({"done":true})"), std::string::npos);
  EXPECT_NE(busy.received().find("Connection: close"), std::string::npos);
  EXPECT_TRUE(idle.closed_within(5s));
  server.stop();
}

TEST(HttpServer, SpoolsUploadBodiesToAFileRemovedAfterTheAnswer) {
  std::mutex mutex;
  std::vector<std::string> paths;
  Router router;
  router.add(
      "POST", "/upload",
      [&](Request& r) {
        if (!r.body_file) return Response::text(200, "in memory: " + r.body, "text/plain");
        std::ifstream in(r.body_file->path, std::ios::binary);
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        {
          std::lock_guard lock(mutex);
          paths.push_back(r.body_file->path);
        }
        size_t sum = 0;
        for (unsigned char c : data) sum += c;
        return Response::text(200,
                              "bytes " + std::to_string(data.size()) + " of " +
                                  std::to_string(r.body_file->size) + " sum " +
                                  std::to_string(sum) + " memory " + std::to_string(r.body.size()),
                              "text/plain");
      },
      RouteOptions{.spool_body = true, .max_body_bytes = 8u << 20});
  router.post("/small", [](Request& r) { return Response::text(200, r.body, "text/plain"); });
  ServerOptions options;
  options.max_body_bytes = 1024;  // the upload route allows more than the server default
  RunningServer server(options, std::move(router));

  std::string body(3u << 20, '\0');
  size_t sum = 0;
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>(i * 31 % 251);
    sum += static_cast<unsigned char>(body[i]);
  }
  const std::string expected = "bytes " + std::to_string(body.size()) + " of " +
                               std::to_string(body.size()) + " sum " + std::to_string(sum) +
                               " memory 0";
  Client sized(server.port());
  sized.send("POST /upload HTTP/1.1\r\nContent-Length: " + std::to_string(body.size()) +
             "\r\n\r\n");
  sized.send(body);
  EXPECT_NE(sized.read_until(expected, 20s).find(expected), std::string::npos)
      << sized.received().substr(0, 300);

  // Chunked, over the same connection.
  std::string chunked = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 100000) {
    const size_t n = std::min<size_t>(100000, body.size() - at);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    chunked += size + body.substr(at, n) + "\r\n";
  }
  chunked += "0\r\n\r\n";
  sized.send(chunked);
  const auto second = [&] {
    const std::string& r = sized.received();
    const size_t first = r.find(expected);
    return first != std::string::npos && r.find(expected, first + 1) != std::string::npos;
  };
  for (int i = 0; i < 200 && !second(); ++i) sized.read_until("\x01", 100ms);
  EXPECT_TRUE(second()) << sized.received().substr(0, 600);
  Client again(server.port());
  again.send(chunked);
  EXPECT_NE(again.read_until(expected, 20s).find(expected), std::string::npos);

  // The route's own limit, and the server's for other routes.
  Client too_big(server.port());
  too_big.send("POST /upload HTTP/1.1\r\nContent-Length: 9000000\r\n\r\n");
  EXPECT_TRUE(too_big.closed_within(5s));
  EXPECT_EQ(too_big.received().rfind("HTTP/1.1 413 ", 0), 0u) << too_big.received();
  Client small(server.port());
  small.send("POST /small HTTP/1.1\r\nContent-Length: 2000\r\n\r\n");
  EXPECT_TRUE(small.closed_within(5s));
  EXPECT_EQ(small.received().rfind("HTTP/1.1 413 ", 0), 0u) << small.received();

  server.stop();
  std::lock_guard lock(mutex);
  EXPECT_GE(paths.size(), 2u);
  for (const auto& path : paths) EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

}  // namespace
}  // namespace hearth::http
