#include "catalog/cache.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hearth::catalog {
namespace fs = std::filesystem;

namespace {

struct RecordContents {
  std::string sha256;
  uint64_t size = 0;
};

bool read_record(const fs::path& record, RecordContents& out) {
  std::ifstream in(record);
  return static_cast<bool>(in >> out.sha256 >> out.size) && out.sha256.size() == 64;
}

fs::path models_dir(const fs::path& home) {
  return home / "models";
}

// True when someone holds the lock (a download is running).
bool lock_is_held(const fs::path& lock) {
  const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  ::close(fd);
  return held;
}

CachedFile inspect(const fs::path& home, const fs::path& path, bool verify) {
  CachedFile out;
  out.path = path;
  std::error_code ec;
  const auto rel = fs::relative(path, models_dir(home), ec).generic_string();
  // models/OWNER/REPO/FILE...
  const auto first = rel.find('/');
  const auto second = first == std::string::npos ? std::string::npos : rel.find('/', first + 1);
  if (second != std::string::npos) {
    out.repo = rel.substr(0, second);
    out.file = rel.substr(second + 1);
  } else {
    out.file = rel;
  }
  CachePaths paths{path, path.string() + ".partial", path.string() + ".lock",
                   path.string() + ".sha256"};
  if (!fs::exists(path, ec)) {
    out.state = fs::exists(paths.partial, ec) ? CacheState::kPartial : CacheState::kMissing;
    if (out.state == CacheState::kPartial) out.size = fs::file_size(paths.partial, ec);
    return out;
  }
  out.size = fs::file_size(path, ec);
  RecordContents record;
  if (!read_record(paths.checksum, record)) {
    out.state = CacheState::kCorrupt;
    out.problem = "no checksum record (" + paths.checksum.filename().string() + ")";
    return out;
  }
  out.sha256 = record.sha256;
  if (record.size != out.size) {
    out.state = CacheState::kCorrupt;
    out.problem = "size is " + std::to_string(out.size) + " bytes, verified size was " +
                  std::to_string(record.size);
    return out;
  }
  if (verify) {
    auto actual = sha256_file(path);
    if (!actual || *actual != record.sha256) {
      out.state = CacheState::kCorrupt;
      out.problem = actual ? "sha256 is " + *actual + ", verified sha256 was " + record.sha256
                           : actual.error().message;
      return out;
    }
  }
  out.state = CacheState::kCached;
  return out;
}

}  // namespace

fs::path hearth_home() {
  if (const char* env = std::getenv("HEARTH_HOME"); env && *env) return env;
  if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".hearth";
  return fs::path(".hearth");
}

CachePaths cache_paths(const fs::path& home, const Variant& variant) {
  fs::path file = models_dir(home) / variant.repo / variant.file;
  if (variant.revision != "main")
    file = models_dir(home) / (variant.repo + "@" + variant.revision) / variant.file;
  const std::string base = file.string();
  return {file, base + ".partial", base + ".lock", base + ".sha256"};
}

const char* to_string(CacheState state) {
  switch (state) {
    case CacheState::kMissing: return "missing";
    case CacheState::kPartial: return "partial";
    case CacheState::kCached: return "cached";
    case CacheState::kCorrupt: return "corrupt";
  }
  return "?";
}

CachedFile cache_lookup(const fs::path& home, const Variant& variant, bool verify) {
  return inspect(home, cache_paths(home, variant).file, verify);
}

std::vector<CachedFile> cache_list(const fs::path& home, bool verify) {
  std::vector<CachedFile> out;
  std::error_code ec;
  if (!fs::is_directory(models_dir(home), ec)) return out;
  for (auto it = fs::recursive_directory_iterator(models_dir(home), ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (!it->is_regular_file(ec)) continue;
    const auto& p = it->path();
    const auto name = p.filename().string();
    if (name.ends_with(".gguf")) {
      out.push_back(inspect(home, p, verify));
    } else if (name.ends_with(".gguf.partial")) {
      const fs::path final_path = p.parent_path() / name.substr(0, name.size() - 8);
      if (!fs::exists(final_path, ec)) out.push_back(inspect(home, final_path, false));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const CachedFile& a, const CachedFile& b) { return a.path < b.path; });
  return out;
}

Result<uint64_t> cache_remove(const fs::path& home, const Variant& variant) {
  const auto paths = cache_paths(home, variant);
  if (lock_is_held(paths.lock))
    return fail("a download of " + variant.file + " is running; stop it first");
  uint64_t freed = 0;
  std::error_code ec;
  for (const auto& p : {paths.file, paths.partial, paths.checksum, paths.lock}) {
    if (!fs::exists(p, ec)) continue;
    freed += fs::is_regular_file(p, ec) ? fs::file_size(p, ec) : 0;
    if (!fs::remove(p, ec) || ec) return fail("cannot remove " + p.string() + ": " + ec.message());
  }
  return freed;
}

Result<uint64_t> cache_prune(const fs::path& home) {
  uint64_t freed = 0;
  std::error_code ec;
  for (const auto& f : cache_list(home, /*verify=*/true)) {
    const std::string base = f.path.string();
    if (lock_is_held(base + ".lock")) continue;  // a download is writing it
    if (f.state == CacheState::kPartial || f.state == CacheState::kCorrupt) {
      for (const auto& p :
           {fs::path(base), fs::path(base + ".partial"), fs::path(base + ".sha256")}) {
        if (fs::exists(p, ec)) {
          freed += fs::file_size(p, ec);
          fs::remove(p, ec);
        }
      }
      fs::remove(base + ".lock", ec);
    }
  }
  // Empty folders left behind, deepest first.
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(models_dir(home), ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) dirs.push_back(it->path());
  }
  std::sort(dirs.rbegin(), dirs.rend());
  for (const auto& d : dirs) {
    if (fs::is_empty(d, ec)) fs::remove(d, ec);
  }
  return freed;
}

Result<std::string> sha256_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read " + path.string());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<unsigned char> buffer(1 << 20);
  bool read_error = false;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      read_error = true;
      break;
    }
    EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  EVP_MD_CTX_free(ctx);
  if (read_error) return fail("error reading " + path.string());
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

Status write_checksum_record(const fs::path& record, const std::string& sha256, uint64_t size) {
  const fs::path tmp = record.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << sha256 << ' ' << size << '\n';
    out.flush();
    if (!out) return fail("cannot write " + tmp.string() + " (is the disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, record, ec);
  if (ec) return fail("cannot write " + record.string() + ": " + ec.message());
  return ok();
}

std::string format_bytes(uint64_t bytes) {
  char buf[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
  } else if (bytes >= 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  }
  return buf;
}

}  // namespace hearth::catalog
