#include "catalog/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "hearth/version.h"

namespace hearth::catalog {
namespace fs = std::filesystem;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return s.substr(i);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ETag values come as "abc", W/"abc"; the hub's is the sha256 for large (LFS) files.
std::string sha256_from_etag(std::string etag) {
  etag = trim(etag);
  if (etag.starts_with("W/")) etag = etag.substr(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  etag = lower(etag);
  if (etag.size() != 64) return {};
  for (char c : etag) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return {};
  }
  return etag;
}

// What one transfer (one attempt) saw and did.
struct Transfer {
  int fd = -1;
  uint64_t offset = 0;          // bytes in the partial file before this attempt
  uint64_t written = 0;         // bytes appended by this attempt
  long status = 0;              // HTTP status of the current response
  uint64_t total = 0;           // full file size, from Content-Range / Content-Length
  bool truncate_first = false;  // the server ignored Range: start over
  bool started_body = false;
  std::string linked_etag, etag;
  int write_errno = 0;
  std::string write_error;
  const DownloadOptions* options = nullptr;
  double started = 0, last_progress = 0;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.starts_with("HTTP/")) {  // a new response (after a redirect)
    t.status = 0;
    const auto sp = line.find(' ');
    if (sp != std::string::npos) t.status = std::strtol(line.c_str() + sp + 1, nullptr, 10);
    t.etag.clear();
    return size * n;
  }
  const auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  const std::string key = lower(line.substr(0, colon));
  const std::string value = trim(line.substr(colon + 1));
  if (key == "x-linked-etag") t.linked_etag = value;
  if (key == "etag") t.etag = value;
  if (key == "content-range") {  // bytes START-END/TOTAL
    if (auto slash = value.find('/');
        slash != std::string::npos && value.substr(slash + 1) != "*") {
      t.total = std::strtoull(value.c_str() + slash + 1, nullptr, 10);
    }
  }
  if (key == "content-length" && t.status == 200)
    t.total = std::strtoull(value.c_str(), nullptr, 10);
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t.status != 200 && t.status != 206) return bytes;  // an error page: not file content
  if (!t.started_body) {
    t.started_body = true;
    if (t.status == 200 && t.offset > 0) {  // no Range support: the body is the whole file
      t.truncate_first = true;
      if (::ftruncate(t.fd, 0) != 0 || ::lseek(t.fd, 0, SEEK_SET) != 0) {
        t.write_errno = errno;
        return 0;
      }
      t.offset = 0;
    }
  }
  size_t done = 0;
  while (done < bytes) {
    const ssize_t w = ::write(t.fd, data + done, bytes - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      t.write_errno = errno;
      return 0;  // makes curl stop with CURLE_WRITE_ERROR
    }
    done += static_cast<size_t>(w);
  }
  t.written += bytes;
  const double now = now_seconds();
  if (t.options->on_progress && now - t.last_progress >= 0.1) {
    t.last_progress = now;
    const double elapsed = std::max(1e-3, now - t.started);
    t.options->on_progress(
        {t.offset + t.written, t.total, static_cast<double>(t.written) / elapsed});
  }
  return bytes;
}

std::once_flag curl_once;

std::string describe_write_error(int err, const fs::path& partial) {
  if (err == ENOSPC || err == EDQUOT) return "the disk is full while writing " + partial.string();
  if (err == EFBIG)
    return "the file grew beyond the size this process may write (" + partial.string() + ")";
  return std::string("cannot write ") + partial.string() + ": " + std::strerror(err);
}

// The whole-file lock, released when the object goes away (and by the kernel on any exit).
class FileLock {
 public:
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  Status acquire(const fs::path& path, const DownloadOptions& options, const std::string& what) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return fail("cannot create " + path.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return ok();
    if (options.on_message)
      options.on_message("another hearth process is downloading " + what + "; waiting for it");
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) return fail("cannot lock " + path.string() + ": " + std::strerror(errno));
    }
    return ok();
  }

 private:
  int fd_ = -1;
};

}  // namespace

std::string hub_url_for(const std::string& hub, const Variant& variant) {
  std::string base = hub;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + variant.repo + "/resolve/" + variant.revision + "/" + variant.file;
}

Result<DownloadResult> download(const fs::path& home, const Variant& variant,
                                const DownloadOptions& options) {
  const CachePaths paths = cache_paths(home, variant);
  const std::string what = variant.repo + "/" + variant.file;
  auto cached_result = [&](const CachedFile& c) {
    return DownloadResult{c.path, c.sha256, c.size, /*was_cached=*/true, /*checksum_known=*/true};
  };
  if (auto c = cache_lookup(home, variant, options.verify_cached); c.state == CacheState::kCached) {
    return cached_result(c);
  }

  std::error_code ec;
  fs::create_directories(paths.file.parent_path(), ec);
  if (ec) return fail("cannot create " + paths.file.parent_path().string() + ": " + ec.message());
  FileLock lock;
  if (auto s = lock.acquire(paths.lock, options, what); !s) return std::unexpected(s.error());
  // Whoever held the lock may have finished the job.
  if (auto c = cache_lookup(home, variant, options.verify_cached); c.state == CacheState::kCached) {
    return cached_result(c);
  } else if (c.state == CacheState::kCorrupt) {
    if (options.on_message)
      options.on_message("cached " + what + " no longer verifies (" + c.problem +
                         "); fetching it again");
    fs::remove(paths.file, ec);
    fs::remove(paths.checksum, ec);
  }

  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const std::string hub = options.hub_url.empty()
                              ? env_or("HEARTH_HUB_URL", "https://huggingface.co")
                              : options.hub_url;
  const std::string token = options.token.empty() ? env_or("HF_TOKEN", "") : options.token;
  int stall = options.stall_seconds;
  if (stall <= 0) stall = std::atoi(env_or("HEARTH_DOWNLOAD_STALL_SECONDS", "30").c_str());
  if (stall <= 0) stall = 30;
  const std::string url = hub_url_for(hub, variant);

  std::string expected_sha = variant.sha256;
  uint64_t total = variant.size;
  std::string last_error;
  for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
    const int fd = ::open(paths.partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
      return fail("cannot create " + paths.partial.string() + ": " + std::strerror(errno));
    Transfer t;
    t.fd = fd;
    t.offset = static_cast<uint64_t>(::lseek(fd, 0, SEEK_END));
    t.options = &options;
    t.started = now_seconds();
    if (total > 0 && t.offset >= total) {  // complete already (interrupted before verifying)
      ::close(fd);
      break;
    }
    if (t.offset > 0 && options.on_message) {
      options.on_message("resuming " + what + " at " + format_bytes(t.offset));
    }

    CURL* curl = curl_easy_init();
    curl_slist* headers = nullptr;
    if (!token.empty())
      headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    const std::string user_agent = "hearth/" + std::string(version());
    curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a connection that stalls ...
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(stall));  // ... this long is dropped
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    // Range by hand (not RESUME_FROM): a server that ignores it and sends the whole file with
    // 200 is handled in on_body rather than failing the transfer.
    const std::string range = std::to_string(t.offset) + "-";
    if (t.offset > 0) curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    char curl_message[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);

    if (t.total > 0) total = t.total;
    if (expected_sha.empty()) {  // the catalog did not know it: trust the hub's own checksum
      expected_sha = sha256_from_etag(t.linked_etag);
      if (expected_sha.empty()) expected_sha = sha256_from_etag(t.etag);
    }
    if (t.write_errno != 0) {
      fs::remove(paths.partial, ec);  // the disk is the problem: free what we used
      return fail("download of " + what + " failed: " +
                  describe_write_error(t.write_errno, paths.partial) + "; nothing was cached");
    }
    if (!synced && rc == CURLE_OK)
      return fail("cannot flush " + paths.partial.string() + " (is the disk full?)");
    if (t.status == 416) {  // Range past the end: the partial file may be complete
      if (total == 0) total = t.offset;
      break;
    }
    if (rc == CURLE_OK && (t.status == 200 || t.status == 206)) {
      if (total == 0 || t.offset + t.written >= total) {
        total = t.offset + t.written;
        break;
      }
      last_error = "the connection closed early";
    } else if (rc == CURLE_OK || t.status >= 400) {
      std::string why = "HTTP " + std::to_string(t.status);
      if (t.status == 404) why = "not found (HTTP 404): check the repository and file name";
      if (t.status == 401 || t.status == 403)
        why = "access denied (HTTP " + std::to_string(t.status) + "): a gated model needs HF_TOKEN";
      if (t.offset == 0) fs::remove(paths.partial, ec);
      // The hub answered: a missing file is the caller's wrong name, anything else the hub's
      // (or the account's) problem for now.
      return fail(t.status == 404 ? ErrorKind::kNotFound : ErrorKind::kUnavailable,
                  "download of " + what + " from " + url + " failed: " + why);
    } else {
      last_error = curl_message[0] ? curl_message : curl_easy_strerror(rc);
    }
    const uint64_t have = t.offset + t.written;
    const bool unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                             rc == CURLE_COULDNT_RESOLVE_PROXY;
    if (options.on_message) {
      options.on_message((unreachable ? "cannot reach the hub at " + hub
                                      : "connection to the hub lost after " + format_bytes(have) +
                                            (total ? " of " + format_bytes(total) : "")) +
                         " (" + last_error + ")" +
                         (attempt < options.max_attempts ? "; retrying" : ""));
    }
    if (attempt == std::max(1, options.max_attempts)) {
      if (unreachable) {
        return unavailable("download of " + what + " failed: cannot reach the hub at " + hub +
                           " (" + last_error + "); are you offline? Nothing was cached");
      }
      return unavailable("download of " + what + " failed: " + last_error + " after " +
                         format_bytes(have) +
                         "; run the command again to resume (nothing was cached)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
  }

  if (options.on_progress) options.on_progress({total, total, 0});
  const uint64_t size = fs::file_size(paths.partial, ec);
  if (ec) return fail("download of " + what + " failed: the partial file vanished");
  if (variant.size > 0 && size != variant.size) {
    fs::remove(paths.partial, ec);
    return fail(ErrorKind::kDataLoss, "download of " + what + " failed: got " +
                                          std::to_string(size) + " bytes, the catalog says " +
                                          std::to_string(variant.size) +
                                          "; the partial file was removed, nothing was cached");
  }
  auto actual = sha256_file(paths.partial);
  if (!actual) return std::unexpected(actual.error());
  if (!expected_sha.empty() && *actual != expected_sha) {
    fs::remove(paths.partial, ec);  // wrong bytes: resuming from them would never verify
    return fail(ErrorKind::kDataLoss, "checksum mismatch for " + what + ": expected sha256 " +
                                          expected_sha + ", got " + *actual +
                                          "; the download was removed and nothing was cached");
  }
  if (auto s = write_checksum_record(paths.checksum, *actual, size); !s)
    return std::unexpected(s.error());
  fs::rename(paths.partial, paths.file, ec);
  if (ec) return fail("cannot move " + paths.partial.string() + " into place: " + ec.message());
  return DownloadResult{paths.file, *actual, size, false, !expected_sha.empty()};
}

ProgressPrinter::ProgressPrinter(std::string label)
    : label_(std::move(label)), terminal_(::isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::operator()(const DownloadProgress& p) {
  const double now = now_seconds();
  const bool complete = p.total > 0 && p.done >= p.total;
  // A terminal gets a redrawn bar; logs get a line every 5 s so they stay readable.
  if (!complete && last_print_ >= 0 && now - last_print_ < (terminal_ ? 0.2 : 5.0)) return;
  last_print_ = now;
  printed_ = true;
  std::string eta = "--:--";
  if (p.total > p.done && p.bytes_per_second > 0) {
    const auto s = static_cast<long>((p.total - p.done) / p.bytes_per_second);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
    eta = buf;
  }
  const std::string size = format_bytes(p.done) + (p.total ? " / " + format_bytes(p.total) : "");
  const std::string speed = format_bytes(static_cast<uint64_t>(p.bytes_per_second)) + "/s";
  if (terminal_) {
    const int width = 30;
    const int filled =
        p.total ? static_cast<int>(width * static_cast<double>(p.done) / p.total) : 0;
    std::string bar(static_cast<size_t>(std::min(filled, width)), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%s [%s] %s  %s  ETA %s   ", label_.c_str(), bar.c_str(), size.c_str(),
                 speed.c_str(), eta.c_str());
  } else {
    std::fprintf(stderr, "%s: %s  %s  ETA %s\n", label_.c_str(), size.c_str(), speed.c_str(),
                 eta.c_str());
  }
  std::fflush(stderr);
}

void ProgressPrinter::finish() {
  if (printed_ && terminal_) std::fprintf(stderr, "\n");
}

}  // namespace hearth::catalog
