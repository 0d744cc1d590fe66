#include "catalog/catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hearth::catalog {

extern const char* const kBuiltinCatalogJson;  // generated from catalog/models.json

namespace {

using nlohmann::json;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c));
         });
}

// Reads an optional string field; an error when present with the wrong type.
Result<std::string> string_field(const json& obj, const char* key, const std::string& where,
                                 bool required) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return fail(where + ": missing \"" + key + "\"");
    return std::string();
  }
  if (!it->is_string()) return fail(where + ": \"" + key + "\" must be a string");
  if (required && it->get<std::string>().empty()) return fail(where + ": \"" + key + "\" is empty");
  return it->get<std::string>();
}

Result<uint64_t> count_field(const json& obj, const char* key, const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return uint64_t{0};
  if (!it->is_number_integer() || it->get<int64_t>() < 0) {
    return fail(where + ": \"" + key + "\" must be a non-negative integer");
  }
  return it->get<uint64_t>();
}

// A repository is "owner/name" with characters the hub allows; a file is a relative path
// without "..": both end up in URLs and cache paths, so nothing else may pass.
bool valid_repo(const std::string& repo) {
  const auto slash = repo.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == repo.size()) return false;
  if (repo.find('/', slash + 1) != std::string::npos) return false;
  return std::all_of(repo.begin(), repo.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                              c == '.' || c == '/';
                     }) &&
         repo.find("..") == std::string::npos;
}

bool valid_file(const std::string& file) {
  if (file.empty() || file.front() == '/' || file.find("..") != std::string::npos) return false;
  return std::all_of(file.begin(), file.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/' || c == '+';
  });
}

Result<Variant> parse_variant(const json& v, const std::string& where) {
  if (!v.is_object()) return fail(where + ": a variant must be an object");
  Variant out;
  auto q = string_field(v, "quantization", where, true);
  if (!q) return std::unexpected(q.error());
  out.quantization = lower(*q);
  auto repo = string_field(v, "repo", where, true);
  if (!repo) return std::unexpected(repo.error());
  if (!valid_repo(*repo))
    return fail(where + ": \"repo\" must look like owner/name, got \"" + *repo + "\"");
  out.repo = *repo;
  auto file = string_field(v, "file", where, true);
  if (!file) return std::unexpected(file.error());
  if (!valid_file(*file))
    return fail(where + ": \"file\" must be a relative path, got \"" + *file + "\"");
  out.file = *file;
  auto revision = string_field(v, "revision", where, false);
  if (!revision) return std::unexpected(revision.error());
  if (!revision->empty()) out.revision = *revision;
  auto sha = string_field(v, "sha256", where, false);
  if (!sha) return std::unexpected(sha.error());
  if (!sha->empty() && !is_sha256_hex(*sha))
    return fail(where + ": \"sha256\" must be 64 hex digits");
  out.sha256 = lower(*sha);
  auto size = count_field(v, "size", where);
  if (!size) return std::unexpected(size.error());
  out.size = *size;
  auto size_mb = count_field(v, "size_mb", where);
  if (!size_mb) return std::unexpected(size_mb.error());
  out.size_mb = *size_mb;
  return out;
}

Result<Entry> parse_entry(const json& m, const std::string& where_prefix) {
  if (!m.is_object()) return fail(where_prefix + ": a model must be an object");
  Entry e;
  auto alias = string_field(m, "alias", where_prefix, true);
  if (!alias) return std::unexpected(alias.error());
  e.alias = lower(*alias);
  if (e.alias.find(':') != std::string::npos || e.alias.find('/') != std::string::npos) {
    return fail(where_prefix + ": alias \"" + e.alias + "\" may not contain ':' or '/'");
  }
  const std::string where = where_prefix + " (" + e.alias + ")";
  for (auto [key, dest] : {std::pair{"family", &e.family},
                           {"description", &e.description},
                           {"license", &e.license},
                           {"parameters", &e.parameters}}) {
    auto s = string_field(m, key, where, false);
    if (!s) return std::unexpected(s.error());
    *dest = *s;
  }
  auto ctx = count_field(m, "context_length", where);
  if (!ctx) return std::unexpected(ctx.error());
  e.context_length = static_cast<int64_t>(*ctx);
  if (auto it = m.find("tasks"); it != m.end()) {
    if (!it->is_array()) return fail(where + ": \"tasks\" must be an array of strings");
    for (const auto& t : *it) {
      if (!t.is_string()) return fail(where + ": \"tasks\" must be an array of strings");
      const std::string task = lower(t.get<std::string>());
      if (std::find(std::begin(kKnownTasks), std::end(kKnownTasks), task) ==
          std::end(kKnownTasks)) {
        return fail(where + ": unknown task \"" + task +
                    "\" (known: chat, code, reasoning, embedding)");
      }
      e.tasks.push_back(task);
    }
  }
  auto variants = m.find("variants");
  if (variants == m.end() || !variants->is_array() || variants->empty()) {
    return fail(where + ": \"variants\" must be a non-empty array");
  }
  for (size_t i = 0; i < variants->size(); ++i) {
    auto v = parse_variant((*variants)[i], where + " variant " + std::to_string(i));
    if (!v) return std::unexpected(v.error());
    if (e.variant(v->quantization)) {
      return fail(where + ": quantization \"" + v->quantization + "\" is listed twice");
    }
    e.variants.push_back(std::move(*v));
  }
  return e;
}

std::filesystem::path catalog_override() {
  const char* env = std::getenv("HEARTH_CATALOG");
  return env && *env ? std::filesystem::path(env) : std::filesystem::path();
}

Result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool Entry::has_task(std::string_view task) const {
  return std::find(tasks.begin(), tasks.end(), lower(task)) != tasks.end();
}

const Variant* Entry::variant(std::string_view quantization) const {
  const std::string q = lower(quantization);
  for (const auto& v : variants) {
    if (v.quantization == q) return &v;
  }
  return nullptr;
}

Result<Catalog> Catalog::parse(std::string_view json_text, const std::string& source) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(source + ": not valid JSON");
  if (!doc.is_object()) return fail(source + ": the top level must be an object with \"models\"");
  auto models = doc.find("models");
  if (models == doc.end() || !models->is_array())
    return fail(source + ": \"models\" must be an array");
  Catalog out;
  for (size_t i = 0; i < models->size(); ++i) {
    auto e = parse_entry((*models)[i], source + ": model " + std::to_string(i));
    if (!e) return std::unexpected(e.error());
    if (out.find(e->alias)) return fail(source + ": alias \"" + e->alias + "\" is listed twice");
    e->source = source;
    out.entries_.push_back(std::move(*e));
  }
  return out;
}

Result<Catalog> Catalog::load(const std::filesystem::path& home) {
  Result<Catalog> base = fail("");
  if (auto path = catalog_override(); !path.empty()) {
    auto text = read_file(path);
    if (!text) return fail("HEARTH_CATALOG: " + text.error().message);
    base = parse(*text, path.string());
  } else {
    base = parse(kBuiltinCatalogJson, "built-in catalog");
  }
  if (!base) return base;
  std::error_code ec;
  const auto dir = home / "catalog.d";
  if (!std::filesystem::is_directory(dir, ec)) return base;
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir, ec)) {
    if (f.path().extension() == ".json") files.push_back(f.path());
  }
  std::sort(files.begin(), files.end());  // later files override earlier ones, predictably
  for (const auto& f : files) {
    auto text = read_file(f);
    auto user = text ? parse(*text, f.string()) : Result<Catalog>(std::unexpected(text.error()));
    if (!user) {
      base->warnings_.push_back(user.error().message + " (file skipped)");
      continue;
    }
    base->merge(std::move(*user));
  }
  return base;
}

void Catalog::merge(Catalog other) {
  for (auto& e : other.entries_) {
    auto it = std::find_if(entries_.begin(), entries_.end(),
                           [&](const Entry& x) { return x.alias == e.alias; });
    if (it != entries_.end()) {
      *it = std::move(e);
    } else {
      entries_.push_back(std::move(e));
    }
  }
  for (auto& w : other.warnings_) warnings_.push_back(std::move(w));
}

const Entry* Catalog::find(std::string_view alias) const {
  const std::string key = lower(alias);
  for (const auto& e : entries_) {
    if (e.alias == key) return &e;
  }
  return nullptr;
}

std::vector<std::string> Catalog::suggestions(std::string_view name, size_t max) const {
  // Close enough to be a typo: a third of the name's length, at least 2 edits.
  const size_t limit = std::max<size_t>(2, name.size() / 3);
  std::vector<std::pair<size_t, std::string>> scored;
  const std::string needle = lower(name);
  for (const auto& e : entries_) {
    size_t d = edit_distance(needle, e.alias);
    // A prefix ("qwen2.5") is a strong hint even when far in edits.
    if (e.alias.starts_with(needle) && needle.size() >= 3) d = std::min(d, limit);
    if (d <= limit) scored.emplace_back(d, e.alias);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [d, alias] : scored) {
    if (out.size() == max) break;
    out.push_back(alias);
  }
  return out;
}

size_t edit_distance(std::string_view a_in, std::string_view b_in) {
  const std::string a = lower(a_in), b = lower(b_in);
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace hearth::catalog
