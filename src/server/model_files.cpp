#include "server/model_files.h"

#include <charconv>
#include <cstdio>
#include <stdexcept>

#include "catalog/cache.h"
#include "server/catalog_provider.h"

namespace hearth::server {
namespace {

namespace cat = hearth::catalog;

// Bytes read per producer call: small enough that a slow client's backlog stays near the
// transport's high-water mark, large enough that a fast one is not limited by calls.
constexpr size_t kChunkBytes = 128 * 1024;

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ApiError file_not_found(const std::string& id, std::string why) {
  return {.status = 404,
          .message = "No model file for '" + id + "': " + why,
          .param = "model",
          .code = "model_not_found"};
}

// The open file a streamed answer reads from; closed when the answer ends either way.
struct FileStream {
  std::FILE* file = nullptr;
  uint64_t left = 0;
  std::string buffer;
  ~FileStream() {
    if (file) std::fclose(file);
  }
};

void add_file_headers(http::Response& res, const ModelFile& f) {
  res.headers.set("ETag", "\"" + f.sha256 + "\"");
  res.headers.set("Accept-Ranges", "bytes");
  // Only pages of this server may embed the bytes in no-cors requests (COEP pages need it to
  // be stated); CORS requests from other loopback pages are governed by the CORS policy.
  res.headers.set("Cross-Origin-Resource-Policy", "same-origin");
  // The URL names the model, not the bytes (a re-download changes them): revalidate.
  res.headers.set("Cache-Control", "no-cache");
}

}  // namespace

RangeRequest parse_range(std::string_view header, uint64_t size) {
  RangeRequest out;
  header = trim(header);
  if (!header.starts_with("bytes=")) return out;
  std::string_view spec = trim(header.substr(6));
  if (spec.find(',') != std::string_view::npos) return out;  // several ranges: send it all
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return out;
  const std::string_view a = trim(spec.substr(0, dash));
  const std::string_view b = trim(spec.substr(dash + 1));
  if (a.empty()) {
    // bytes=-N: the last N bytes.
    auto n = parse_u64(b);
    if (!n) return out;
    if (*n == 0 || size == 0) {
      out.unsatisfiable = true;
      return out;
    }
    const uint64_t take = std::min(*n, size);
    out.range = ByteRange{size - take, size - 1};
    return out;
  }
  auto first = parse_u64(a);
  if (!first) return out;
  std::optional<uint64_t> last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    last = parse_u64(b);
    if (!last || *last < *first) return out;  // malformed: ignored
  }
  if (*first >= size) {
    out.unsatisfiable = true;
    return out;
  }
  out.range = ByteRange{*first, std::min(*last, size - 1)};
  return out;
}

ModelFiles::ModelFiles(const ModelRegistry& registry,
                       std::shared_ptr<const catalog::Catalog> catalog, std::filesystem::path home)
    : registry_(registry), catalog_(std::move(catalog)), home_(std::move(home)) {}

Result<std::string> ModelFiles::sha256_of(const std::filesystem::path& path, uint64_t size) {
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  const std::string key = path.string() + "\n" + std::to_string(size) + "\n" +
                          std::to_string(mtime.time_since_epoch().count());
  std::shared_future<Result<std::string>> pending;
  std::promise<Result<std::string>> mine;
  bool compute = false;
  {
    std::lock_guard lock(mutex_);
    auto it = hashes_.find(key);
    if (it == hashes_.end()) {
      pending = mine.get_future().share();
      hashes_.emplace(key, pending);
      compute = true;
    } else {
      pending = it->second;
    }
  }
  if (compute) {
    std::fprintf(stderr, "hearth serve: hashing %s for its ETag (once)\n", path.c_str());
    Result<std::string> sha = cat::sha256_file(path);
    if (!sha) {
      // Not remembered: the next request tries again (the file may be readable then).
      std::lock_guard lock(mutex_);
      hashes_.erase(key);
    }
    mine.set_value(sha);
  }
  return pending.get();
}

ApiResult<ModelFile> ModelFiles::find(const std::string& id) {
  ModelFile found;
  bool known = false;
  // A loaded model (-m, or on demand) is served from the file it was loaded from.
  for (const auto& loaded : registry_.loaded()) {
    if (loaded.id == id && !loaded.path.empty()) {
      found.path = loaded.path;
      known = true;
      break;
    }
  }
  if (!known) {
    auto ref = resolve_model(*catalog_, id);
    if (!ref) return api_fail(file_not_found(id, ref.error().message));
    if (ref->kind != cat::ModelRef::Kind::kHub) {
      return api_fail(file_not_found(id, "only loaded models and catalog models are served"));
    }
    cat::CachedFile cached = cat::cache_lookup(home_, ref->variant, /*verify=*/false);
    if (cached.state != cat::CacheState::kCached) {
      return api_fail(file_not_found(
          id, "it is not in this server's cache (`hearth model download " + id + "` fetches it)"));
    }
    found.path = cached.path;
    found.sha256 = cached.sha256;
  }
  std::error_code ec;
  found.size = std::filesystem::file_size(found.path, ec);
  if (ec) return api_fail(file_not_found(id, "its file cannot be read (" + ec.message() + ")"));
  if (found.sha256.empty()) {
    auto sha = sha256_of(found.path, found.size);
    if (!sha) return api_fail(internal_error("hashing the model file: " + sha.error().message));
    found.sha256 = std::move(*sha);
  }
  return found;
}

http::Response ModelFiles::serve(const http::Request& req, const std::string& id) {
  auto found = find(id);
  if (!found) return error_response(found.error());
  const ModelFile& f = *found;
  const std::string etag = "\"" + f.sha256 + "\"";

  if (auto match = req.header("If-None-Match"); match) {
    // A list of tags or "*" (RFC 9110 13.1.2); weak comparison is fine for GET.
    const std::string_view m = *match;
    if (trim(m) == "*" || m.find(etag) != std::string_view::npos) {
      http::Response res;
      res.status = 304;
      add_file_headers(res, f);
      return res;
    }
  }

  ByteRange range{0, f.size == 0 ? 0 : f.size - 1};
  bool partial = false;
  auto range_header = req.header("Range");
  // If-Range: the range applies only while the client's copy is still this file.
  if (auto if_range = req.header("If-Range"); if_range && trim(*if_range) != etag) {
    range_header.reset();
  }
  if (range_header) {
    RangeRequest wanted = parse_range(*range_header, f.size);
    if (wanted.unsatisfiable) {
      ApiError e =
          invalid_request("Range '" + std::string(*range_header) + "' is outside the file (" +
                              std::to_string(f.size) + " bytes)",
                          "Range");
      e.status = 416;
      e.code = "range_not_satisfiable";
      http::Response res = error_response(e);
      res.headers.set("Content-Range", "bytes */" + std::to_string(f.size));
      add_file_headers(res, f);
      return res;
    }
    if (wanted.range) {
      range = *wanted.range;
      partial = true;
    }
  }

  auto stream = std::make_shared<FileStream>();
  stream->file = std::fopen(f.path.c_str(), "rb");
  if (!stream->file ||
      (f.size > 0 && std::fseek(stream->file, static_cast<long>(range.first), SEEK_SET) != 0)) {
    return error_response(internal_error("cannot open the model file of '" + id + "'"));
  }
  stream->left = f.size == 0 ? 0 : range.last - range.first + 1;

  http::StreamBody body;
  body.length = stream->left;
  body.produce = [stream](http::StreamWriter& out) {
    if (stream->left == 0) return false;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(stream->left, kChunkBytes));
    stream->buffer.resize(want);
    const size_t got = std::fread(stream->buffer.data(), 1, want, stream->file);
    if (got == 0) {
      // The file shrank under us: the promised length cannot be kept, drop the connection.
      throw std::runtime_error("model file ended early");
    }
    stream->left -= got;
    if (!out.write(std::string_view(stream->buffer.data(), got))) return false;
    return stream->left > 0;
  };
  // File bytes are always ready: with poll_ready the transport never parks a worker inside
  // write() while a slow client drains its backlog; it simply stops calling produce (and its
  // write deadline drops a client that stops reading).
  body.poll_ready = [](const std::function<void()>&) { return true; };
  body.on_close = [stream](bool) { stream->left = 0; };

  http::Response res = http::Response::streamed("application/octet-stream", std::move(body));
  res.status = partial ? 206 : 200;
  if (partial) {
    res.headers.set("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                         std::to_string(range.last) + "/" + std::to_string(f.size));
  }
  add_file_headers(res, f);
  return res;
}

}  // namespace hearth::server
