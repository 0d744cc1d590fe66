// A stand-in for the Hugging Face hub on localhost, for download tests: serves the fixture
// models at /{owner}/{repo}/resolve/{revision}/{file} (any owner/repo: the file name picks
// the fixture; "tinyllamas/stories260K.gguf" maps to stories260K.gguf) with the sha256 as
// ETag and X-Linked-Etag, honours Range, and misbehaves on request: drops the connection
// halfway, sends a wrong byte, answers 404, or crawls.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "catalog/cache.h"
#include "support/fixtures.h"

namespace hearth::testing {

class TestHub {
 public:
  enum class Mode { kNormal, kDropHalfway, kWrongBytes, kNotFound, kCrawl, kNoChecksum };

  TestHub() {
    server_.Get(R"(/([^/]+)/([^/]+)/resolve/([^/]+)/(.+))",
                [this](const httplib::Request& req, httplib::Response& res) { serve(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestHub() {
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void set_mode(Mode mode) { mode_ = mode; }
  // kDropHalfway drops only this many requests, then serves normally (so a retry resumes).
  void set_drops(int n) { drops_left_ = n; }
  int requests() const { return requests_; }
  std::vector<std::string> ranges() const {
    std::lock_guard lock(mutex_);
    return ranges_;
  }

 private:
  void serve(const httplib::Request& req, httplib::Response& res) {
    ++requests_;
    {
      std::lock_guard lock(mutex_);
      ranges_.push_back(req.get_header_value("Range"));
    }
    std::string file = req.matches[4];
    if (auto slash = file.rfind('/'); slash != std::string::npos) file = file.substr(slash + 1);
    const auto path = fixtures_dir() / "models" / file;
    if (mode_ == Mode::kNotFound || file.find("..") != std::string::npos ||
        !std::filesystem::exists(path)) {
      res.status = 404;
      res.set_content("Entry not found", "text/plain");
      return;
    }
    auto data = std::make_shared<std::string>(read_file(path));
    const std::string sha = *catalog::sha256_file(path);
    if (mode_ != Mode::kNoChecksum) {
      res.set_header("ETag", "\"" + sha + "\"");
      res.set_header("X-Linked-Etag", "\"" + sha + "\"");
    }
    res.set_header("Accept-Ranges", "bytes");
    if (mode_ == Mode::kWrongBytes) (*data)[data->size() / 2] ^= 0x5a;
    const bool drop = mode_ == Mode::kDropHalfway && drops_left_.fetch_sub(1) > 0;
    const bool crawl = mode_ == Mode::kCrawl;
    // httplib applies the request's Range to this provider (offset/length) and answers 206.
    res.set_content_provider(
        data->size(), "application/octet-stream",
        [data, drop, crawl](size_t offset, size_t length, httplib::DataSink& sink) {
          if (drop && offset >= data->size() / 2) return false;  // connection dropped
          size_t chunk = std::min<size_t>(length, crawl ? 16384 : 65536);
          if (drop) chunk = std::min(chunk, data->size() / 2 - offset);
          if (crawl) std::this_thread::sleep_for(std::chrono::milliseconds(25));
          return sink.write(data->data() + offset, chunk);
        });
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::kNormal};
  std::atomic<int> drops_left_{1};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> ranges_;
};

}  // namespace hearth::testing
