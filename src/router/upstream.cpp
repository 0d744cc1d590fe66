#include "router/upstream.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>

namespace hearth::router {

std::optional<UpstreamEvent> UpstreamCall::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  UpstreamEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void UpstreamCall::push(UpstreamEvent event) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    wake.swap(wake_);
  }
  ready_.notify_one();
  if (wake) wake();
}

bool UpstreamCall::poll_ready(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (!events_.empty()) return true;
  wake_ = std::move(wake);
  return false;
}

namespace {

// One transfer as the client thread sees it.
struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  UpstreamRequest request;
  std::shared_ptr<UpstreamCall> call;
  bool headers_sent = false;
  int retry_after_s = 0;

  ~Transfer() {
    if (headers) curl_slist_free_all(headers);
    if (easy) curl_easy_cleanup(easy);
  }

  void send_headers() {
    if (headers_sent) return;
    headers_sent = true;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    UpstreamEvent e;
    e.kind = UpstreamEvent::Kind::kHeaders;
    e.status = static_cast<int>(status);
    e.retry_after_s = retry_after_s;
    call->push(std::move(e));
  }
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->call->cancelled()) return 0;  // aborts the transfer
  t->send_headers();
  UpstreamEvent e;
  e.kind = UpstreamEvent::Kind::kData;
  e.data.assign(data, size * n);
  t->call->push(std::move(e));
  return size * n;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  constexpr std::string_view kRetry = "retry-after:";
  if (line.size() > kRetry.size()) {
    bool match = true;
    for (size_t i = 0; i < kRetry.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(line[i])) != kRetry[i]) match = false;
    }
    if (match) {
      // Delay-seconds, or an HTTP date (RFC 9110 allows both); unreadable values leave
      // the target's cooldown_s in charge.
      std::string value(line.substr(kRetry.size()));
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
        value.erase(value.begin());
      }
      while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
        value.pop_back();
      }
      long long v = 0;
      if (!value.empty() && std::isdigit(static_cast<unsigned char>(value.front()))) {
        v = std::atoll(value.c_str());
      } else if (const time_t when = curl_getdate(value.c_str(), nullptr); when > 0) {
        v = static_cast<long long>(when) - static_cast<long long>(std::time(nullptr));
      }
      if (v > 0) t->retry_after_s = static_cast<int>(std::min<long long>(v, 86400));
    }
  }
  return len;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->call->cancelled() ? 1 : 0;
}

}  // namespace

struct UpstreamClient::Core {
  CURLM* multi = nullptr;
  std::mutex mutex;
  std::vector<std::unique_ptr<Transfer>> pending;  // started, not yet added to `multi`
  std::atomic<bool> stop{false};
};

Result<std::unique_ptr<UpstreamClient>> UpstreamClient::create() {
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) return fail(ErrorKind::kInternal, "libcurl failed to initialize");
  std::unique_ptr<UpstreamClient> client(new UpstreamClient());
  client->core_ = std::make_unique<Core>();
  client->core_->multi = curl_multi_init();
  if (!client->core_->multi) return fail(ErrorKind::kInternal, "libcurl multi handle failed");
  client->thread_ = std::thread([c = client.get()] { c->run(); });
  return client;
}

UpstreamClient::~UpstreamClient() {
  shutdown();
}

void UpstreamClient::shutdown() {
  if (!core_) return;
  core_->stop = true;
  curl_multi_wakeup(core_->multi);
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(core_->mutex);
    for (auto& t : core_->pending) {
      UpstreamEvent e;
      e.kind = UpstreamEvent::Kind::kDone;
      e.error = "the router is shutting down";
      t->call->push(std::move(e));
    }
    core_->pending.clear();
  }
  curl_multi_cleanup(core_->multi);
  core_.reset();
}

std::shared_ptr<UpstreamCall> UpstreamClient::start(UpstreamRequest request) {
  auto call = std::make_shared<UpstreamCall>();
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->call = call;
  t->easy = curl_easy_init();
  if (!t->easy || !core_ || core_->stop) {
    UpstreamEvent e;
    e.kind = UpstreamEvent::Kind::kDone;
    e.error = "cannot start an upstream request";
    call->push(std::move(e));
    return call;
  }
  CURL* h = t->easy;
  curl_easy_setopt(h, CURLOPT_URL, t->request.url.c_str());
  if (t->request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, t->request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
  }
  for (const auto& header : t->request.headers) {
    t->headers = curl_slist_append(t->headers, header.c_str());
  }
  // No "Expect: 100-continue" round trip: it adds a second of latency on servers that ignore it.
  t->headers = curl_slist_append(t->headers, "Expect:");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, t.get());
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->request.connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->request.total_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  {
    std::lock_guard lock(core_->mutex);
    core_->pending.push_back(std::move(t));
  }
  curl_multi_wakeup(core_->multi);
  return call;
}

void UpstreamClient::run() {
  std::map<CURL*, std::unique_ptr<Transfer>> running;
  auto finish = [&](CURL* easy, CURLcode code) {
    auto it = running.find(easy);
    if (it == running.end()) return;
    Transfer& t = *it->second;
    UpstreamEvent done;
    done.kind = UpstreamEvent::Kind::kDone;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    done.status = static_cast<int>(status);
    if (code == CURLE_OK) {
      t.send_headers();  // a reply with an empty body still has a status
    } else if (t.call->cancelled()) {
      done.error = "cancelled";
    } else {
      done.error = curl_easy_strerror(code);
      done.connect_failed = code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                            code == CURLE_COULDNT_RESOLVE_PROXY;
      done.timed_out = code == CURLE_OPERATION_TIMEDOUT;
    }
    t.call->push(std::move(done));
    curl_multi_remove_handle(core_->multi, easy);
    running.erase(it);
    active_.store(running.size());
  };

  while (!core_->stop) {
    {
      std::lock_guard lock(core_->mutex);
      for (auto& t : core_->pending) {
        CURL* easy = t->easy;
        if (curl_multi_add_handle(core_->multi, easy) != CURLM_OK) {
          UpstreamEvent e;
          e.kind = UpstreamEvent::Kind::kDone;
          e.error = "cannot start an upstream request";
          t->call->push(std::move(e));
          continue;
        }
        running.emplace(easy, std::move(t));
      }
      core_->pending.clear();
    }
    active_.store(running.size());
    int still_running = 0;
    curl_multi_perform(core_->multi, &still_running);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(core_->multi, &queued)) {
      if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
    }
    // Woken early by curl_multi_wakeup when a request is started or on shutdown; the timeout
    // bounds how late a cancelled idle transfer is noticed by the progress callback.
    curl_multi_poll(core_->multi, nullptr, 0, 200, nullptr);
  }
  for (auto& [easy, t] : running) {
    UpstreamEvent e;
    e.kind = UpstreamEvent::Kind::kDone;
    e.error = "the router is shutting down";
    t->call->push(std::move(e));
    curl_multi_remove_handle(core_->multi, easy);
  }
  running.clear();
}

}  // namespace hearth::router
