// The raw figures of a comparison as JSON (`hearth compare --json`): everything the HTML
// report is computed from, plus the computed summaries and matrix.
#include "compare/compare.h"

namespace hearth::compare {

using nlohmann::ordered_json;

namespace {

ordered_json opt(const std::optional<double>& v) {
  return v ? ordered_json(*v) : ordered_json();
}
ordered_json opt_number(double v) {
  return v >= 0 ? ordered_json(v) : ordered_json();
}
ordered_json opt_count(int64_t v) {
  return v >= 0 ? ordered_json(v) : ordered_json();
}

}  // namespace

ordered_json to_json(const CompareRun& run) {
  const auto summaries = summarize(run);
  const auto decision = decide(run, summaries);
  ordered_json doc;
  doc["object"] = "hearth.compare";
  doc["version"] = 1;
  doc["hearth_version"] = run.hearth_version;
  doc["started"] = run.started_utc;
  doc["mode"] = run.mode == Mode::kFair ? "fair" : "concurrent";
  doc["runs"] = run.runs;
  doc["interrupted"] = run.interrupted;
  doc["max_tokens"] = run.max_tokens;
  doc["reference"] = run.reference ? ordered_json(run.models[*run.reference].name) : ordered_json();
  ordered_json prompts = ordered_json::array();
  for (const auto& p : run.prompts) prompts.push_back(p.messages);
  doc["prompts"] = prompts;
  ordered_json models = ordered_json::array();
  for (size_t m = 0; m < run.models.size(); ++m) {
    const auto& model = run.models[m];
    const auto& s = summaries[m];
    ordered_json targets = ordered_json::array();
    for (const auto& t : model.targets) {
      targets.push_back(
          {{"name", t.name},
           {"kind", t.local ? "local" : "openai"},
           {"host", t.local ? ordered_json() : ordered_json(t.host)},
           {"price_per_mtok", {{"input", t.price_input}, {"output", t.price_output}}}});
    }
    ordered_json destinations = ordered_json::object();
    for (const auto& [host, count] : s.destinations) destinations[host] = count;
    models.push_back({{"name", model.name},
                      {"kind", kind_name(model.kind)},
                      {"targets", targets},
                      {"summary",
                       {{"requests", s.requests},
                        {"errors", s.errors},
                        {"ttft_ms_p50", opt(s.ttft_p50)},
                        {"ttft_ms_p95", opt(s.ttft_p95)},
                        {"e2e_ms_p50", opt(s.e2e_p50)},
                        {"e2e_ms_p95", opt(s.e2e_p95)},
                        {"generation_tps_p50", opt(s.gen_tps_p50)},
                        {"prompt_tps_p50", opt(s.prompt_tps_p50)},
                        {"completion_tokens_mean", s.completion_tokens_mean},
                        {"cost_usd_per_1k_requests", opt(s.cost_per_1k)},
                        {"cost_unknown_requests", s.cost_unknown},
                        {"destinations", destinations},
                        {"data_left_machine", s.data_left_machine},
                        {"agreement_f1", opt(s.agreement)},
                        {"error_samples", s.error_samples}}}});
  }
  doc["models"] = models;
  ordered_json requests = ordered_json::array();
  for (const auto& r : run.records) {
    ordered_json j = {
        {"model", run.models[r.model].name}, {"prompt", r.prompt}, {"run", r.run}, {"ok", r.ok}};
    if (!r.ok) j["error"] = r.error;
    j["ttft_ms"] = opt_number(r.ttft_ms);
    j["total_ms"] = r.total_ms;
    j["prompt_tokens"] = opt_count(r.prompt_tokens);
    j["completion_tokens"] = opt_count(r.completion_tokens);
    j["prompt_tps"] = opt_number(r.prompt_tps);
    j["generation_tps"] = opt_number(r.generation_tps);
    j["generation_tps_source"] = r.generation_tps < 0           ? ordered_json()
                                 : r.generation_tps_from_server ? ordered_json("server")
                                                                : ordered_json("client");
    j["queue_ms"] = opt_number(r.queue_ms);
    j["target"] = r.target.empty() ? ordered_json() : ordered_json(r.target);
    const auto cost = request_cost(run.models[r.model], r);
    j["cost_usd"] = r.ok ? opt(cost) : ordered_json();
    j["answer"] = r.answer;
    requests.push_back(std::move(j));
  }
  doc["requests"] = requests;
  ordered_json matrix = ordered_json::array();
  for (const auto& row : decision.rows) {
    ordered_json cells = ordered_json::array();
    for (size_t m = 0; m < row.cells.size(); ++m) {
      cells.push_back({{"model", run.models[m].name},
                       {"rating", rating_name(row.cells[m].rating)},
                       {"figure", row.cells[m].figure}});
    }
    matrix.push_back({{"criterion", row.criterion}, {"rule", row.rule}, {"cells", cells}});
  }
  doc["decision"] = {{"matrix", matrix}, {"verdict", decision.verdict}};
  return doc;
}

}  // namespace hearth::compare
