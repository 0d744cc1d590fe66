// `hearth compare`'s data and the report built from it, apart from how the figures were
// measured (cli/cmd_compare*.cpp sends the requests): the prompt file's parser, the statistics
// (percentiles, token F1), the per-model summary, the SLM-vs-LLM decision matrix and its rules,
// and the two outputs (a self-contained HTML page and the raw JSON).
//
// Plain values and pure functions: no I/O, no threads; safe to use from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hearth/status.h"

namespace hearth::compare {

// ---- input ------------------------------------------------------------------------------------

// One prompt of the file: the chat messages sent, and a short label for the report.
struct Prompt {
  nlohmann::ordered_json messages;  // [{"role","content"}, ...]
  std::string label;                // the last user message's text
};

// Parses the prompt file: a non-empty JSON array whose items are a string (one user message)
// or a list of {"role", "content"} messages (roles system/developer/user/assistant/tool,
// string content, at least one). Errors name the item ("prompt 3: ...").
Result<std::vector<Prompt>> parse_prompts(const std::string& text);

// ---- measurements -----------------------------------------------------------------------------

enum class ModelKind { kLocal, kRoute, kRemote };
std::string_view kind_name(ModelKind kind);

// Where a target sends requests and what it costs; from the router's config.
struct TargetInfo {
  std::string name;
  bool local = true;
  std::string host;         // remote: the base URL's host[:port]; local: empty
  double price_input = 0;   // USD per million prompt tokens
  double price_output = 0;  // USD per million completion tokens
};

struct ModelInfo {
  std::string name;  // as given with -m
  ModelKind kind = ModelKind::kLocal;
  std::vector<TargetInfo> targets;  // route/remote: the targets it may use; local: none
};

// One request: the client's clock (TTFT, total) and what the reply said (timings, usage).
struct RequestRecord {
  size_t model = 0;   // index into CompareRun::models
  size_t prompt = 0;  // index into CompareRun::prompts
  int run = 0;
  bool ok = false;
  std::string error;           // when !ok
  double ttft_ms = -1;         // client: request sent to the first content byte; -1: none arrived
  double total_ms = 0;         // client: request sent to the stream's end (or the error)
  int64_t prompt_tokens = -1;  // usage; -1: the reply had none
  int64_t completion_tokens = -1;
  double prompt_tps = -1;      // timings.prompt_per_second; -1: absent
  double generation_tps = -1;  // timings.predicted_per_second, else client-side (see report)
  bool generation_tps_from_server = false;
  double queue_ms = -1;  // timings.queue_ms
  std::string target;    // the router's X-Hearth-Target (routes); empty for local models
  std::string answer;
};

enum class Mode { kFair, kConcurrent };

struct CompareRun {
  std::vector<ModelInfo> models;
  std::vector<Prompt> prompts;
  std::vector<RequestRecord> records;
  Mode mode = Mode::kFair;
  int runs = 1;
  int max_tokens = 0;
  std::optional<size_t> reference;  // --reference: the model answers are scored against
  std::string started_utc;          // ISO 8601
  std::string hearth_version;
  bool interrupted = false;  // stopped (Ctrl-C) before every planned request was sent
};

// ---- statistics -------------------------------------------------------------------------------

// The p-th percentile (0..100) by linear interpolation between closest ranks; nullopt for none.
std::optional<double> percentile(std::vector<double> values, double p);
// Bag-of-words F1 between two texts: lowercase alphanumeric words, counted with multiplicity.
// Two empty texts agree fully (1); one empty text against a non-empty one scores 0.
double token_f1(const std::string& a, const std::string& b);

// The target a request went to (by X-Hearth-Target; a replica "name#1" counts as "name").
const TargetInfo* answering_target(const ModelInfo& model, const std::string& target);
// A request's cost in USD (0 for local answers); nullopt when a priced target sent no usage.
std::optional<double> request_cost(const ModelInfo& model, const RequestRecord& record);

struct ModelSummary {
  size_t requests = 0;
  size_t errors = 0;
  std::optional<double> ttft_p50, ttft_p95;  // ms, successful requests
  std::optional<double> e2e_p50, e2e_p95;    // ms, successful requests
  std::optional<double> gen_tps_p50;         // tokens/s
  std::optional<double> prompt_tps_p50;      // tokens/s (local answers report it)
  double completion_tokens_mean = 0;
  std::optional<double> cost_per_1k;  // USD per 1000 requests; nullopt: usage missing
  size_t cost_unknown = 0;            // successful requests whose cost is unknown
  std::vector<std::pair<std::string, size_t>> destinations;  // "this machine" or a host: count
  bool data_left_machine = false;
  std::optional<double> agreement;         // mean token F1 (vs reference, or vs the others)
  std::vector<std::string> error_samples;  // up to 3 distinct messages
};

std::vector<ModelSummary> summarize(const CompareRun& run);

// ---- decision matrix --------------------------------------------------------------------------

enum class Rating { kGood, kFair, kPoor, kUnknown };
std::string_view rating_name(Rating rating);

struct MatrixCell {
  Rating rating = Rating::kUnknown;
  std::string figure;  // what the rating was computed from, e.g. "p95 812 ms"
};

struct MatrixRow {
  std::string criterion;          // latency, cost, privacy, capability, reliability
  std::string rule;               // the stated rule, shown under the table
  std::vector<MatrixCell> cells;  // one per model
};

struct Decision {
  std::vector<MatrixRow> rows;
  std::string verdict;  // one paragraph, from the rule in the report's text
};

Decision decide(const CompareRun& run, const std::vector<ModelSummary>& summaries);

// ---- outputs ----------------------------------------------------------------------------------

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view text);
// The report: one HTML file, inline CSS and SVG, no script, CSP default-src 'none'.
std::string render_html(const CompareRun& run);
// The raw figures: settings, models, prompts, every request, the summaries and the matrix.
nlohmann::ordered_json to_json(const CompareRun& run);

}  // namespace hearth::compare
