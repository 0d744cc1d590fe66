// hearth's model cache under $HEARTH_HOME (default ~/.hearth): files from the hub land in
// models/OWNER/REPO/FILE, next to FILE.sha256 (the verified checksum and size, written before
// the file gets its final name). While a download runs the bytes go to FILE.partial and
// FILE.lock is held with flock, so two processes never write one file.
//
// A file counts as cached only when it exists, its .sha256 record exists and the sizes agree;
// `verify` additionally re-hashes it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "hearth/status.h"

namespace hearth::catalog {

// $HEARTH_HOME, else ~/.hearth.
std::filesystem::path hearth_home();

struct CachePaths {
  std::filesystem::path file;      // the model, once verified
  std::filesystem::path partial;   // bytes being downloaded
  std::filesystem::path lock;      // flock'ed by the downloading process
  std::filesystem::path checksum;  // "SHA256 SIZE\n" of the verified file
};
CachePaths cache_paths(const std::filesystem::path& home, const Variant& variant);

enum class CacheState { kMissing, kPartial, kCached, kCorrupt };
const char* to_string(CacheState state);

struct CachedFile {
  std::string repo;  // owner/name
  std::string file;  // path inside the repository
  std::filesystem::path path;
  uint64_t size = 0;
  std::string sha256;  // as recorded when it was verified
  CacheState state = CacheState::kMissing;
  std::string problem;  // why it is kCorrupt
};

// The state of one variant in the cache; `verify` re-hashes the file (slow for big files).
CachedFile cache_lookup(const std::filesystem::path& home, const Variant& variant, bool verify);
// Every file under models/, with its state.
std::vector<CachedFile> cache_list(const std::filesystem::path& home, bool verify);
// Deletes a variant's file, record and partial download; how many bytes were freed.
Result<uint64_t> cache_remove(const std::filesystem::path& home, const Variant& variant);
// Deletes partial downloads nobody is writing, files that no longer verify, empty folders.
Result<uint64_t> cache_prune(const std::filesystem::path& home);

// Lower-case hex sha256 of a file (OpenSSL EVP).
Result<std::string> sha256_file(const std::filesystem::path& path);

// Records that `file` verified with `sha256`; written before the final rename.
Status write_checksum_record(const std::filesystem::path& record, const std::string& sha256,
                             uint64_t size);

std::string format_bytes(uint64_t bytes);

}  // namespace hearth::catalog
