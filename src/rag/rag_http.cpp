// The /v1/files and /v1/vector_stores routes and grounded chat (server::RagService).
#include "rag/rag_http.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "rag/answer.h"
#include "rag/multipart.h"
#include "rag/vector_store.h"
#include "server/api_error.h"
#include "server/openai_request.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using server::api_error_from;
using server::ApiError;
using server::error_response;
using server::invalid_request;
using server::json_response;

// A read-only mapping of a spooled request body, so a large upload is parsed in place.
class MappedFile {
 public:
  static Result<MappedFile> open(const std::string& path) {
    MappedFile m;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return unavailable("cannot read the uploaded body");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      return unavailable("cannot read the uploaded body");
    }
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ > 0) {
      void* p = ::mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        ::close(fd);
        return unavailable("cannot map the uploaded body");
      }
      m.data_ = static_cast<const char*>(p);
    }
    ::close(fd);
    return m;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept : data_(std::exchange(o.data_, nullptr)), size_(o.size_) {}
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (data_) ::munmap(const_cast<char*>(data_), size_);
  }
  std::string_view view() const { return {data_ ? data_ : "", data_ ? size_ : 0}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

http::Response fail(const Error& e) {
  return error_response(api_error_from(e));
}

json file_json(const FileRecord& f) {
  return {{"id", f.id},
          {"object", "file"},
          {"bytes", f.bytes},
          {"created_at", f.created_at},
          {"filename", f.filename},
          {"purpose", f.purpose},
          {"status", "processed"},
          {"status_details", nullptr}};
}

json store_json(const VectorStoreInfo& s) {
  return {{"id", s.id},
          {"object", "vector_store"},
          {"created_at", s.created_at},
          {"name", s.name},
          {"usage_bytes", s.usage_bytes},
          {"file_counts",
           {{"in_progress", 0},
            {"completed", s.completed},
            {"failed", s.failed},
            {"cancelled", 0},
            {"total", s.completed + s.failed}}},
          {"status", "completed"},
          {"last_active_at", s.created_at},
          {"expires_after", nullptr},
          {"expires_at", nullptr},
          {"metadata", s.metadata.is_object() ? s.metadata : json::object()}};
}

json store_file_json(const VectorStoreFile& f) {
  json out = {{"id", f.file_id},
              {"object", "vector_store.file"},
              {"created_at", f.created_at},
              {"vector_store_id", f.vector_store_id},
              {"status", f.status},
              {"last_error", nullptr},
              {"usage_bytes", f.usage_bytes},
              {"attributes", f.attributes.is_object() ? f.attributes : json::object()},
              {"chunking_strategy",
               {{"type", "static"},
                {"static", {{"max_chunk_size_tokens", 256}, {"chunk_overlap_tokens", 32}}}}}};
  if (f.status == "failed")
    out["last_error"] = {{"code", f.error_code}, {"message", f.error_message}};
  return out;
}

// OpenAI's cursor paging of list endpoints: newest first unless order=asc, `after`/`before`
// an id of the list (an unknown one is a 400 naming it), at most `limit` items, has_more when
// the list goes on past the page.
template <class T, class F>
server::ApiResult<json> list_json(const http::Request& req, const std::vector<T>& items, F to_json,
                                  int default_limit, int max_limit) {
  std::vector<json> all;
  for (const auto& item : items) all.push_back(to_json(item));
  const std::string order = req.query_param("order").value_or("desc");
  if (order != "asc" && order != "desc")
    return std::unexpected(invalid_request("order must be 'asc' or 'desc'", "order"));
  std::stable_sort(all.begin(), all.end(), [](const json& a, const json& b) {
    return a["created_at"].get<int64_t>() > b["created_at"].get<int64_t>();
  });
  if (order == "asc") std::reverse(all.begin(), all.end());  // ties too: the exact reverse
  int limit = default_limit;
  if (const auto text = req.query_param("limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > max_limit)
      return std::unexpected(invalid_request(
          "limit must be an integer from 1 to " + std::to_string(max_limit), "limit"));
  }
  auto position = [&](const char* param) -> server::ApiResult<std::optional<size_t>> {
    const auto id = req.query_param(param);
    if (!id) return std::optional<size_t>();
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i]["id"] == *id) return std::optional<size_t>(i);
    return std::unexpected(
        invalid_request(std::string(param) + " names no item of this list: '" + *id + "'", param));
  };
  auto after = position("after");
  if (!after) return std::unexpected(after.error());
  auto before = position("before");
  if (!before) return std::unexpected(before.error());
  size_t begin = *after ? **after + 1 : 0;
  size_t end = *before ? **before : all.size();
  bool more = false;
  if (*before && !*after) {  // the page that ends just before the cursor
    if (end > static_cast<size_t>(limit)) {
      begin = end - static_cast<size_t>(limit);
      more = true;
    }
  } else if (end > begin && end - begin > static_cast<size_t>(limit)) {
    end = begin + static_cast<size_t>(limit);
    more = true;
  }
  json data = json::array();
  for (size_t i = begin; i < end; ++i) data.push_back(std::move(all[i]));
  json out = {{"object", "list"}, {"data", data}};
  out["first_id"] = data.empty() ? json(nullptr) : data.front()["id"];
  out["last_id"] = data.empty() ? json(nullptr) : data.back()["id"];
  out["has_more"] = more;
  return out;
}

server::ApiResult<json> json_body(const http::Request& req) {
  if (req.body.empty()) return json::object();
  return server::parse_json_body(req.body);
}

// "a/b/c" -> {"a", "b/c"}: the store id, then the rest (a local file id may hold '/').
std::pair<std::string, std::string> split_first(const std::string& s) {
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return {s, ""};
  return {s.substr(0, slash), s.substr(slash + 1)};
}

std::string text_of_content(const json& content) {
  if (content.is_string()) return content.get<std::string>();
  std::string out;
  if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
          part["text"].is_string()) {
        if (!out.empty()) out += "\n";
        out += part["text"].get<std::string>();
      }
    }
  }
  return out;
}

// Handlers answer every failure as a value; this catches what a JSON accessor might still
// throw on a body of surprising types, so no exception leaves the module.
template <class F>
http::Handler guarded(F f) {
  return [f = std::move(f)](http::Request& req) -> http::Response {
    try {
      return f(req);
    } catch (const nlohmann::json::exception& e) {
      return error_response(invalid_request(std::string("malformed request: ") + e.what()));
    } catch (const std::exception& e) {
      return error_response(server::internal_error(e.what()));
    }
  };
}

class Service final : public server::RagService {
 public:
  Service(RagServiceOptions options, std::unique_ptr<VectorStores> stores)
      : options_(std::move(options)), stores_(std::move(stores)) {}

  void register_routes(http::Router& router) override;
  server::ApiResult<server::GroundedMessages> ground(
      const json& rag, const json& messages, int max_prompt_tokens,
      const server::PromptTokenCounter& count) override;
  server::CheckedCitations check_citations(const std::string& text, int n_sources) const override {
    const CheckedAnswer a = rag::check_citations(text, n_sources);
    return {a.text, a.cited, a.removed};
  }

 private:
  http::Response upload(const http::Request& req);
  http::Response files_get(const http::Request& req);
  http::Response stores_create(const http::Request& req);
  http::Response store_get(const http::Request& req);
  http::Response store_post(const http::Request& req);
  http::Response store_delete(const http::Request& req);
  http::Response search(const std::string& store_id, const http::Request& req);
  server::ApiResult<server::GroundedMessages> ground_unguarded(
      const json& rag, const json& messages, int max_prompt_tokens,
      const server::PromptTokenCounter& count);

  RagServiceOptions options_;
  std::unique_ptr<VectorStores> stores_;
};

http::Response Service::upload(const http::Request& req) {
  const auto type = req.header("Content-Type");
  if (!type) return error_response(invalid_request("Content-Type must be multipart/form-data"));
  auto boundary = multipart_boundary(*type);
  if (!boundary) return fail(boundary.error());
  std::optional<MappedFile> mapped;
  std::string_view body = req.body;
  if (req.body_file) {
    auto m = MappedFile::open(req.body_file->path);
    if (!m) return fail(m.error());
    mapped.emplace(std::move(*m));
    body = mapped->view();
  }
  auto parts = parse_multipart(body, *boundary);
  if (!parts) return error_response(invalid_request(parts.error().message));
  const MultipartPart* file = nullptr;
  std::string purpose;
  for (const auto& p : *parts) {
    if (p.name == "file" && p.has_filename && !file) file = &p;
    if (p.name == "purpose") purpose = std::string(body.substr(p.offset, p.size));
  }
  if (!file)
    return error_response(invalid_request("the form has no 'file' part with a filename", "file"));
  if (purpose != "assistants" && purpose != "user_data")
    return error_response(invalid_request(
        "purpose must be 'assistants' or 'user_data' (got '" + purpose + "')", "purpose"));
  if (static_cast<int64_t>(file->size) > options_.max_upload_bytes)
    return error_response(
        server::payload_too_large(static_cast<size_t>(options_.max_upload_bytes)));
  auto record =
      stores_->files().put(body.substr(file->offset, file->size), file->filename, purpose);
  if (!record) return fail(record.error());
  return json_response(200, file_json(*record));
}

http::Response Service::files_get(const http::Request& req) {
  const auto [id, rest] = split_first(req.path_remainder);
  auto record = stores_->files().get(id);
  if (!record) return fail(record.error());
  if (rest.empty()) return json_response(200, file_json(*record));
  if (rest != "content") return error_response(server::not_found_route(req.method, req.path));
  std::ifstream in(record->path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  if (!in) return fail(Error{"cannot read " + record->path.string(), ErrorKind::kDataLoss});
  return http::Response::text(200, bytes.str(), "application/octet-stream");
}

// OpenAI's metadata: at most 16 keys with string values; the limits of attributes otherwise.
std::optional<ApiError> metadata_problem(const json& metadata) {
  if (metadata.is_null()) return std::nullopt;
  if (auto s = validate_attributes(metadata); !s)
    return invalid_request(s.error().message, "metadata");
  for (const auto& [k, v] : metadata.items())
    if (!v.is_string()) return invalid_request("metadata values must be strings", "metadata");
  return std::nullopt;
}

// The fields a store is created or modified with: an optional name and its metadata.
struct StoreFields {
  std::optional<std::string> name;
  json metadata;
};

server::ApiResult<StoreFields> store_fields(const json& body) {
  StoreFields out;
  if (body.contains("name") && !body["name"].is_null()) {
    if (!body["name"].is_string())
      return std::unexpected(invalid_request("name must be a string", "name"));
    out.name = body["name"].get<std::string>();
  }
  out.metadata = body.value("metadata", json(nullptr));
  if (auto bad = metadata_problem(out.metadata)) return std::unexpected(*bad);
  return out;
}

http::Response Service::stores_create(const http::Request& req) {
  auto body = json_body(req);
  if (!body) return error_response(body.error());
  if (!body->is_object()) return error_response(invalid_request("the body must be a JSON object"));
  auto fields = store_fields(*body);
  if (!fields) return error_response(fields.error());
  std::vector<std::string> file_ids;
  if (body->contains("file_ids") && !(*body)["file_ids"].is_null()) {
    const json& ids = (*body)["file_ids"];
    if (!ids.is_array() || ids.size() > 500)
      return error_response(
          invalid_request("file_ids must be an array of at most 500 ids", "file_ids"));
    for (const auto& id : ids) {
      if (!id.is_string())
        return error_response(invalid_request("file_ids must hold strings", "file_ids"));
      file_ids.push_back(id.get<std::string>());
    }
  }
  auto info = stores_->create(fields->name.value_or(""), fields->metadata, file_ids);
  if (!info) return fail(info.error());
  return json_response(200, store_json(*info));
}

http::Response Service::store_get(const http::Request& req) {
  const auto [id, rest] = split_first(req.path_remainder);
  if (rest.empty()) {
    auto info = stores_->get(id);
    if (!info) return fail(info.error());
    return json_response(200, store_json(*info));
  }
  if (rest == "files") {
    auto files = stores_->files_of(id);
    if (!files) return fail(files.error());
    std::string filter = req.query_param("filter").value_or("");
    std::vector<VectorStoreFile> kept;
    for (auto& f : *files)
      if (filter.empty() || f.status == filter) kept.push_back(std::move(f));
    auto page = list_json(req, kept, store_file_json, 20, 100);
    if (!page) return error_response(page.error());
    return json_response(200, *page);
  }
  if (rest.starts_with("files/")) {
    auto f = stores_->file_of(id, rest.substr(6));
    if (!f) return fail(f.error());
    return json_response(200, store_file_json(*f));
  }
  return error_response(server::not_found_route(req.method, req.path));
}

http::Response Service::store_post(const http::Request& req) {
  const auto [id, rest] = split_first(req.path_remainder);
  if (rest == "search") return search(id, req);
  if (rest.empty()) {  // modify: name and/or metadata
    auto body = json_body(req);
    if (!body) return error_response(body.error());
    if (!body->is_object())
      return error_response(invalid_request("the body must be a JSON object"));
    auto fields = store_fields(*body);
    if (!fields) return error_response(fields.error());
    auto info = stores_->update(id, fields->name, fields->metadata);
    if (!info) return fail(info.error());
    return json_response(200, store_json(*info));
  }
  if (rest == "files") {
    auto body = json_body(req);
    if (!body) return error_response(body.error());
    if (!body->is_object() || !body->contains("file_id") || !(*body)["file_id"].is_string())
      return error_response(invalid_request("file_id must be a string", "file_id"));
    json attributes = body->value("attributes", json(nullptr));
    if (auto s = validate_attributes(attributes); !s)
      return error_response(invalid_request(s.error().message, "attributes"));
    auto f = stores_->attach(id, (*body)["file_id"].get<std::string>(), attributes);
    if (!f) return fail(f.error());
    return json_response(200, store_file_json(*f));
  }
  return error_response(server::not_found_route(req.method, req.path));
}

http::Response Service::store_delete(const http::Request& req) {
  const auto [id, rest] = split_first(req.path_remainder);
  if (rest.empty()) {
    if (auto s = stores_->remove(id); !s) return fail(s.error());
    return json_response(200, {{"id", id}, {"object", "vector_store.deleted"}, {"deleted", true}});
  }
  if (rest.starts_with("files/")) {
    const std::string file_id = rest.substr(6);
    if (auto s = stores_->detach(id, file_id); !s) return fail(s.error());
    return json_response(
        200, {{"id", file_id}, {"object", "vector_store.file.deleted"}, {"deleted", true}});
  }
  return error_response(server::not_found_route(req.method, req.path));
}

http::Response Service::search(const std::string& store_id, const http::Request& req) {
  auto body = json_body(req);
  if (!body) return error_response(body.error());
  if (!body->is_object()) return error_response(invalid_request("the body must be a JSON object"));
  json queries = json::array();
  const json query = body->value("query", json(nullptr));
  if (query.is_string()) {
    queries.push_back(query);
  } else if (query.is_array() && !query.empty()) {
    for (const auto& q : query) {
      if (!q.is_string())
        return error_response(invalid_request("query must hold strings", "query"));
      queries.push_back(q);
    }
  } else {
    return error_response(
        invalid_request("query must be a string or an array of strings", "query"));
  }
  std::string text;
  for (const auto& q : queries) text += (text.empty() ? "" : " ") + q.get<std::string>();
  int k = 10;
  if (body->contains("max_num_results")) {
    const json& n = (*body)["max_num_results"];
    if (!n.is_number_integer() || n.get<int64_t>() < 1 || n.get<int64_t>() > 50)
      return error_response(
          invalid_request("max_num_results must be an integer from 1 to 50", "max_num_results"));
    k = n.get<int>();
  }
  std::optional<Filter> filter;
  if (body->contains("filters") && !(*body)["filters"].is_null()) {
    auto f = parse_filter((*body)["filters"]);
    if (!f) return error_response(invalid_request(f.error().message, "filters"));
    filter = std::move(*f);
  }
  double threshold = 0;
  if (const json ro = body->value("ranking_options", json(nullptr)); ro.is_object()) {
    if (ro.contains("score_threshold")) {
      if (!ro["score_threshold"].is_number())
        return error_response(
            invalid_request("ranking_options.score_threshold must be a number", "ranking_options"));
      threshold = ro["score_threshold"].get<double>();
    }
  }
  // rewrite_query is accepted and ignored: the query is searched as given.
  json data = json::array();
  if (text.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto hits = stores_->search(store_id, text, k, filter);
    if (!hits) return fail(hits.error());
    for (const StoreHit& h : *hits) {
      if (h.score < threshold) continue;
      data.push_back({{"file_id", h.file_id},
                      {"filename", h.filename},
                      {"score", h.score},
                      {"attributes", h.attributes.is_object() ? h.attributes : json::object()},
                      {"content", json::array({{{"type", "text"}, {"text", h.hit.quote}}})}});
    }
  } else if (auto info = stores_->get(store_id); !info) {
    return fail(info.error());  // an unknown store is a 404 even for an empty query
  }
  return json_response(200, {{"object", "vector_store.search_results.page"},
                             {"search_query", queries},
                             {"data", data},
                             {"has_more", false},
                             {"next_page", nullptr}});
}

server::ApiResult<server::GroundedMessages> Service::ground(
    const json& rag, const json& messages, int max_prompt_tokens,
    const server::PromptTokenCounter& count) {
  try {
    return ground_unguarded(rag, messages, max_prompt_tokens, count);
  } catch (const nlohmann::json::exception& e) {
    return server::api_fail(invalid_request(std::string("malformed rag request: ") + e.what()));
  } catch (const std::exception& e) {  // e.g. a filesystem error: the chat route gets a value
    return server::api_fail(server::internal_error(e.what()));
  }
}

server::ApiResult<server::GroundedMessages> Service::ground_unguarded(
    const json& rag, const json& messages, int max_prompt_tokens,
    const server::PromptTokenCounter& count) {
  if (!rag.is_object()) return server::api_fail(invalid_request("rag must be an object", "rag"));
  const json ids = rag.value("vector_store_ids", json(nullptr));
  if (!ids.is_array() || ids.empty() || ids.size() > 8)
    return server::api_fail(
        invalid_request("rag.vector_store_ids must be an array of 1 to 8 ids", "rag"));
  int top_k = 6;
  if (rag.contains("top_k")) {
    if (!rag["top_k"].is_number_integer() || rag["top_k"].get<int64_t>() < 1 ||
        rag["top_k"].get<int64_t>() > 50)
      return server::api_fail(invalid_request("rag.top_k must be an integer from 1 to 50", "rag"));
    top_k = rag["top_k"].get<int>();
  }
  if (!messages.is_array())
    return server::api_fail(invalid_request("messages must be an array", "messages"));
  int last_user = -1;
  for (size_t i = 0; i < messages.size(); ++i)
    if (messages[i].is_object() && messages[i].value("role", "") == "user")
      last_user = static_cast<int>(i);
  if (last_user < 0)
    return server::api_fail(
        invalid_request("grounded chat needs a user message to answer", "messages"));
  const std::string question = text_of_content(messages[last_user].value("content", json()));
  // Every store's best top_k, merged by score: the scores are on one scale (scaled RRF).
  std::vector<StoreHit> hits;
  for (const auto& id : ids) {
    if (!id.is_string())
      return server::api_fail(invalid_request("rag.vector_store_ids must hold strings", "rag"));
    if (question.find_first_not_of(" \t\r\n") == std::string::npos) {
      if (auto info = stores_->get(id.get<std::string>()); !info)
        return server::api_fail(api_error_from(info.error()));
      continue;
    }
    auto found = stores_->search(id.get<std::string>(), question, top_k, std::nullopt);
    if (!found) return server::api_fail(api_error_from(found.error()));
    for (auto& h : *found) hits.push_back(std::move(h));
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const StoreHit& a, const StoreHit& b) { return a.score > b.score; });
  if (static_cast<int>(hits.size()) > top_k) hits.resize(static_cast<size_t>(top_k));
  // The prompt names a source by its filename, not by where hearth keeps it.
  std::vector<Hit> shown;
  for (const StoreHit& h : hits) {
    Hit copy = h.hit;
    copy.path = h.filename;
    shown.push_back(std::move(copy));
  }
  auto with_sources = [&](const std::string& system, const std::string& user) {
    json out = json::array();
    out.push_back({{"role", "system"}, {"content", system}});
    for (size_t i = 0; i < messages.size(); ++i) {
      const json& m = messages[i];
      if (static_cast<int>(i) == last_user) {
        out.push_back({{"role", "user"}, {"content", user}});
      } else if (m.is_object() && m.value("role", "") == "system") {
        // The caller's instructions follow the grounding rules in the one system message.
        out[0]["content"] = out[0]["content"].get<std::string>() + "\n\n" +
                            text_of_content(m.value("content", json()));
      } else {
        out.push_back(m);
      }
    }
    return out;
  };
  std::optional<ApiError> count_error;
  auto counter = [&](const std::string& system, const std::string& user) -> Result<int> {
    auto n = count(with_sources(system, user));
    if (!n) {
      count_error = n.error();
      return fail(ErrorKind::kInternal, n.error().message);
    }
    return *n;
  };
  auto fitted = fit_grounded_prompt(question, shown, max_prompt_tokens, counter);
  if (!fitted) {
    if (count_error) return server::api_fail(*count_error);
    ApiError e = invalid_request(fitted.error().message, "messages");
    e.code = "context_length_exceeded";
    return server::api_fail(e);
  }
  server::GroundedMessages out;
  out.messages =
      with_sources(grounded_system_message(), grounded_user_message(question, fitted->sources));
  out.dropped = static_cast<int>(fitted->dropped.size());
  for (size_t i = 0; i < fitted->sources.size(); ++i) {
    const StoreHit& h = hits[i];  // fitted keeps a prefix of `shown`, which follows `hits`
    out.sources.push_back({static_cast<int>(i + 1), h.file_id, h.filename, h.hit.page,
                           h.hit.char_start, h.hit.char_end, h.hit.quote});
  }
  return out;
}

void Service::register_routes(http::Router& router) {
  http::RouteOptions upload_route;
  upload_route.spool_body = true;
  // Room for the multipart framing and the purpose field around the file itself.
  upload_route.max_body_bytes = static_cast<size_t>(options_.max_upload_bytes) + (64u << 10);
  router.add("POST", "/v1/files", guarded([this](http::Request& req) { return upload(req); }),
             upload_route);
  router.get("/v1/files", guarded([this](http::Request& req) {
               auto all = stores_->files().list();
               if (!all) return fail(all.error());
               if (const auto purpose = req.query_param("purpose"))
                 std::erase_if(*all, [&](const FileRecord& f) { return f.purpose != *purpose; });
               auto page = list_json(req, *all, file_json, 10000, 10000);
               if (!page) return error_response(page.error());
               return json_response(200, *page);
             }));
  router.get("/v1/files/*", guarded([this](http::Request& req) { return files_get(req); }));
  router.add("DELETE", "/v1/files/*", guarded([this](http::Request& req) {
               const std::string id = req.path_remainder;
               if (auto f = stores_->files().get(id); !f) return fail(f.error());
               // Its chunks leave every store first, so a failure leaves the file listed.
               if (auto s = stores_->detach_everywhere(id); !s) return fail(s.error());
               if (auto s = stores_->files().remove(id); !s) return fail(s.error());
               return json_response(200, {{"id", id}, {"object", "file"}, {"deleted", true}});
             }));
  router.post("/v1/vector_stores",
              guarded([this](http::Request& req) { return stores_create(req); }));
  router.get("/v1/vector_stores", guarded([this](http::Request& req) {
               auto all = stores_->list();
               if (!all) return fail(all.error());
               auto page = list_json(req, *all, store_json, 20, 100);
               if (!page) return error_response(page.error());
               return json_response(200, *page);
             }));
  router.get("/v1/vector_stores/*", guarded([this](http::Request& req) { return store_get(req); }));
  router.post("/v1/vector_stores/*",
              guarded([this](http::Request& req) { return store_post(req); }));
  router.add("DELETE", "/v1/vector_stores/*",
             guarded([this](http::Request& req) { return store_delete(req); }));
}

}  // namespace

Result<std::shared_ptr<server::RagService>> make_rag_service(RagServiceOptions options) {
  VectorStoresOptions vs;
  vs.files_dir = options.files_dir;
  vs.embedder_name = options.embedder_name;
  vs.embedder_path = options.embedder_path;
  auto stores = VectorStores::open(std::move(vs));
  if (!stores) return std::unexpected(stores.error());
  return std::shared_ptr<server::RagService>(
      std::make_shared<Service>(std::move(options), std::move(*stores)));
}

}  // namespace hearth::rag
