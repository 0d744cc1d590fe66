#include "http/http.h"

#include <unistd.h>

#include <cctype>

namespace hearth::http {

SpooledBody::~SpooledBody() {
  if (!path.empty()) ::unlink(path.c_str());
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [key, value] : fields_) {
    if (equals_ignore_case(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void Headers::set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& field) { return equals_ignore_case(field.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

void Headers::add(std::string name, std::string value) {
  fields_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Request::query_param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response Response::json(int status, std::string body) {
  return text(status, std::move(body), "application/json");
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response res;
  res.status = status;
  res.body = std::move(body);
  res.content_type = std::move(content_type);
  return res;
}

Response Response::streamed(std::string content_type, StreamBody stream) {
  Response res;
  res.content_type = std::move(content_type);
  res.stream = std::move(stream);
  return res;
}

}  // namespace hearth::http
