// Fetches a catalog variant from the hub into the cache: `{hub}/{repo}/resolve/{revision}/{file}`
// with libcurl, resuming with Range after an interruption, verifying sha256 (the catalog's
// value, else the hub's X-Linked-Etag / ETag when it is one) and renaming into place only once
// verified. A bad checksum, a full disk or a dropped connection leaves nothing that counts as
// cached, and the Error says what happened.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "hearth/status.h"

namespace hearth::catalog {

struct DownloadProgress {
  uint64_t done = 0;   // bytes in the partial file
  uint64_t total = 0;  // 0 = unknown
  double bytes_per_second = 0;
};

struct DownloadOptions {
  std::string hub_url;   // empty: $HEARTH_HUB_URL, else https://huggingface.co
  std::string token;     // empty: $HF_TOKEN
  int max_attempts = 4;  // connection drops are retried, resuming where they stopped
  bool verify_cached =
      false;  // re-hash a cached file (slow for big ones) and fetch it again if it changed
  int stall_seconds = 0;  // give up on a connection that sends nothing this long; 0:
                          // $HEARTH_DOWNLOAD_STALL_SECONDS or 30
  std::function<void(const DownloadProgress&)> on_progress;
  std::function<void(const std::string&)> on_message;  // "waiting for ...", "resuming at ..."
};

struct DownloadResult {
  std::filesystem::path file;
  std::string sha256;
  uint64_t size = 0;
  bool was_cached = false;     // nothing was fetched
  bool checksum_known = true;  // false: neither the catalog nor the hub gave a sha256
};

// A file size limit (RLIMIT_FSIZE, a quota) must end the download with an Error, not kill the
// process: a program calling this ignores SIGXFSZ once at start-up
// (hearth::platform::ignore_file_size_signal(); hearth's main does).
Result<DownloadResult> download(const std::filesystem::path& home, const Variant& variant,
                                const DownloadOptions& options = {});

std::string hub_url_for(const std::string& hub, const Variant& variant);

// Renders progress as a bar with size, speed and ETA on a terminal (stderr), or as a plain
// line every few seconds otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::string label);
  void operator()(const DownloadProgress& p);
  void finish();

 private:
  std::string label_;
  bool terminal_;
  double last_print_ = -1;
  bool printed_ = false;
};

}  // namespace hearth::catalog
