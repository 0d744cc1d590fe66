// The decision report as one HTML file: inline CSS and SVG, no script, and a CSP that lets
// nothing load, so it can be mailed or archived and opened anywhere. Every text that came from
// outside (model names, prompts, answers, error messages) goes through html_escape.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "compare/compare.h"

namespace hearth::compare {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string num(const std::optional<double>& v, int decimals, const char* unit = "") {
  if (!v) return "—";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f%s", decimals, *v, unit);
  return buffer;
}

constexpr const char* kStyle = R"(
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fff;--muted:#5b5b66;--line:#d0d0d8;
--a:#1d4ed8;--b:#93b4f5;--good:#0b6b2f;--good-bg:#dff3e4;--fair:#7a4a00;--fair-bg:#fdf0d5;
--poor:#8a1111;--poor-bg:#fde8e8}
@media (prefers-color-scheme:dark){:root{--fg:#ececf1;--bg:#151518;--muted:#a9a9b6;--line:#3a3a44;
--a:#8ab4ff;--b:#3d5a99;--good:#9be39b;--good-bg:#173322;--fair:#ffd28a;--fair-bg:#3a2c12;
--poor:#ffb4b4;--poor-bg:#3d1a1a}}
body{font:15px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);margin:0 auto;
max-width:72rem;padding:1rem 1.5rem 3rem}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:2rem 0 .5rem;
border-bottom:1px solid var(--line)}
.meta{color:var(--muted)}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid var(--line);padding:.3rem .55rem;text-align:left;vertical-align:top}
td.n{text-align:right}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
svg text{fill:var(--fg);font:12px system-ui,sans-serif}
svg .a{fill:var(--a)}svg .b{fill:var(--b)}svg .axis{stroke:var(--line)}
.good{color:var(--good);background:var(--good-bg)}.fair{color:var(--fair);background:var(--fair-bg)}
.poor{color:var(--poor);background:var(--poor-bg)}.unknown{color:var(--muted)}
.rating{font-weight:600}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;font:13px ui-monospace,monospace}
details{margin:.4rem 0;border:1px solid var(--line);border-radius:6px;padding:.3rem .6rem}
summary{cursor:pointer}
.verdict{font-size:1.05rem;border-left:4px solid var(--a);padding:.4rem .8rem}
.err{color:var(--poor)}
)";

// A horizontal bar chart: one group per model, one bar per series (at most two: p50 and p95).
std::string bar_chart(const std::string& title, const char* unit, int decimals,
                      const std::vector<std::string>& labels,
                      const std::vector<std::string>& series_names,
                      const std::vector<std::vector<std::optional<double>>>& series) {
  double top = 0;
  for (const auto& s : series) {
    for (const auto& v : s) {
      if (v) top = std::max(top, *v);
    }
  }
  const int label_w = 150, bar_w = 230, value_w = 90, bar_h = 14, gap = 10;
  const int groups = static_cast<int>(labels.size());
  const int per_group = static_cast<int>(series.size()) * (bar_h + 2);
  const int height = 34 + groups * (per_group + gap) + 18;
  const int width = label_w + bar_w + value_w;
  std::string svg = "<figure><svg role=\"img\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
                    std::to_string(height) + "\"><title>" + html_escape(title) + "</title>";
  svg += "<text x=\"0\" y=\"14\" font-weight=\"600\">" + html_escape(title) + "</text>";
  int y = 28;
  for (int g = 0; g < groups; ++g) {
    // A path is known by its file name.
    std::string label = labels[g].substr(labels[g].find_last_of('/') + 1);
    if (label.size() > 24) {
      size_t cut = 22;  // never inside a UTF-8 sequence
      while (cut > 0 && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;
      label = label.substr(0, cut) + "…";
    }
    svg +=
        "<text x=\"0\" y=\"" + std::to_string(y + bar_h) + "\">" + html_escape(label) + "</text>";
    for (size_t s = 0; s < series.size(); ++s) {
      const auto& v = series[s][g];
      const int w = v && top > 0 ? std::max(1, static_cast<int>(std::lround(*v / top * bar_w))) : 0;
      svg += "<rect class=\"" + std::string(s == 0 ? "a" : "b") + "\" x=\"" +
             std::to_string(label_w) + "\" y=\"" + std::to_string(y) + "\" width=\"" +
             std::to_string(w) + "\" height=\"" + std::to_string(bar_h) + "\"/>";
      svg += "<text x=\"" + std::to_string(label_w + w + 4) + "\" y=\"" +
             std::to_string(y + bar_h - 3) + "\">" + html_escape(num(v, decimals, unit)) +
             (series.size() > 1 ? " " + html_escape(series_names[s]) : "") + "</text>";
      y += bar_h + 2;
    }
    y += gap;
  }
  svg += "<line class=\"axis\" x1=\"" + std::to_string(label_w) + "\" y1=\"24\" x2=\"" +
         std::to_string(label_w) + "\" y2=\"" + std::to_string(y) + "\"/>";
  svg += "</svg></figure>";
  return svg;
}

std::string mode_text(Mode mode) {
  return mode == Mode::kFair
             ? "fair: one request at a time, so local models never share the CPU"
             : "concurrent: each prompt sent to every model at once (local models share the "
               "CPU)";
}

}  // namespace

std::string render_html(const CompareRun& run) {
  const auto summaries = summarize(run);
  const auto decision = decide(run, summaries);
  std::vector<std::string> names;
  for (const auto& m : run.models) names.push_back(m.name);

  std::string h;
  h += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
       "style-src 'unsafe-inline'\">";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
  h += "<title>hearth compare: ";
  for (size_t i = 0; i < names.size(); ++i) h += (i ? " vs " : "") + html_escape(names[i]);
  h += "</title><style>" + std::string(kStyle) + "</style></head><body>";
  h += "<h1>SLM vs LLM: decision report</h1>";
  h += "<p class=\"meta\">hearth " + html_escape(run.hearth_version) + " · " +
       html_escape(run.started_utc) + " · " + std::to_string(run.prompts.size()) + " prompt(s) × " +
       std::to_string(run.runs) + " run(s) × " + std::to_string(run.models.size()) +
       " model(s) · max_tokens " + std::to_string(run.max_tokens) + " · mode <strong>" +
       html_escape(mode_text(run.mode)) + "</strong></p>";
  if (run.interrupted) {
    h += "<p class=\"err\">Interrupted: the figures cover the requests sent before the run was "
         "stopped.</p>";
  }

  // Models and where the data went.
  h += "<h2>Models and where the data went</h2><table><tr><th>model</th><th>kind</th>"
       "<th>requests</th><th>errors</th><th>answered by (requests)</th></tr>";
  for (size_t m = 0; m < run.models.size(); ++m) {
    const auto& s = summaries[m];
    std::string where;
    for (const auto& [host, count] : s.destinations) {
      where +=
          (where.empty() ? "" : "<br>") + html_escape(host) + " (" + std::to_string(count) + ")";
    }
    if (where.empty()) where = "—";
    h += "<tr><td>" + html_escape(names[m]) + "</td><td>" +
         std::string(kind_name(run.models[m].kind)) + "</td><td class=\"n\">" +
         std::to_string(s.requests) + "</td><td class=\"n\">" + std::to_string(s.errors) +
         "</td><td>" + where + "</td></tr>";
  }
  h += "</table>";

  // Latency.
  h += "<h2>Latency</h2><p class=\"meta\">Time to first token (TTFT) and end-to-end time are "
       "measured by the client, from sending the request to the first content byte and to the "
       "stream's end; token rates are the server's <code>timings</code> when the reply carried "
       "them, else completion tokens over the time after the first token. Successful requests "
       "only.</p>";
  h += "<table><tr><th>model</th><th>TTFT p50</th><th>TTFT p95</th><th>end-to-end p50</th>"
       "<th>end-to-end p95</th><th>generation tok/s p50</th><th>prompt tok/s p50</th>"
       "<th>completion tokens (mean)</th></tr>";
  for (size_t m = 0; m < run.models.size(); ++m) {
    const auto& s = summaries[m];
    h += "<tr><td>" + html_escape(names[m]) + "</td><td class=\"n\">" + num(s.ttft_p50, 1, " ms") +
         "</td><td class=\"n\">" + num(s.ttft_p95, 1, " ms") + "</td><td class=\"n\">" +
         num(s.e2e_p50, 1, " ms") + "</td><td class=\"n\">" + num(s.e2e_p95, 1, " ms") +
         "</td><td class=\"n\">" + num(s.gen_tps_p50, 1) + "</td><td class=\"n\">" +
         num(s.prompt_tps_p50, 1) + "</td><td class=\"n\">" + num(s.completion_tokens_mean, 1) +
         "</td></tr>";
  }
  h += "</table><div class=\"charts\">";
  auto column = [&](auto field) {
    std::vector<std::optional<double>> v;
    for (const auto& s : summaries) v.push_back(field(s));
    return v;
  };
  h += bar_chart("TTFT (ms)", " ms", 0, names, {"p50", "p95"},
                 {column([](const ModelSummary& s) { return s.ttft_p50; }),
                  column([](const ModelSummary& s) { return s.ttft_p95; })});
  h += bar_chart("End-to-end (ms)", " ms", 0, names, {"p50", "p95"},
                 {column([](const ModelSummary& s) { return s.e2e_p50; }),
                  column([](const ModelSummary& s) { return s.e2e_p95; })});
  h += bar_chart("Generation (tokens/s, p50)", "", 1, names, {"p50"},
                 {column([](const ModelSummary& s) { return s.gen_tps_p50; })});
  h += "</div>";

  // Cost.
  h += "<h2>Cost</h2><p class=\"meta\">Per 1000 requests like these, from each reply's "
       "<code>usage</code> and the answering target's <code>price_per_mtok</code> in the "
       "router config; a local model costs 0.</p><table><tr><th>model</th><th>USD per 1k "
       "requests</th><th>prices (USD per million tokens in / out)</th></tr>";
  for (size_t m = 0; m < run.models.size(); ++m) {
    std::string prices;
    for (const auto& t : run.models[m].targets) {
      if (t.local) continue;
      char buffer[96];
      std::snprintf(buffer, sizeof buffer, " %.2f / %.2f", t.price_input, t.price_output);
      prices += (prices.empty() ? "" : "<br>") + html_escape(t.name) + ":" + buffer;
    }
    std::string cell = num(summaries[m].cost_per_1k, 4);
    if (summaries[m].cost_unknown) {
      cell = "unknown (" + std::to_string(summaries[m].cost_unknown) + " replies without usage)";
    }
    h += "<tr><td>" + html_escape(names[m]) + "</td><td class=\"n\">" + cell + "</td><td>" +
         (prices.empty() ? "local: 0" : prices) + "</td></tr>";
  }
  h += "</table>";
  h += bar_chart("Cost (USD per 1k requests)", "", 4, names, {"cost"},
                 {column([](const ModelSummary& s) { return s.cost_per_1k; })});

  // Agreement.
  h += "<h2>Answer agreement</h2><p class=\"meta\">A simple quality score: the mean token F1 "
       "(bag of lowercase words) of a model's answers against " +
       std::string(run.reference ? "the reference model <strong>" +
                                       html_escape(names[*run.reference]) + "</strong>"
                                 : "every other model's answers to the same prompt") +
       ". It measures agreement, not correctness.</p><table><tr><th>model</th><th>token F1"
       "</th></tr>";
  for (size_t m = 0; m < run.models.size(); ++m) {
    const bool is_reference = run.reference && *run.reference == m;
    h += "<tr><td>" + html_escape(names[m]) + "</td><td class=\"n\">" +
         (is_reference ? std::string("reference") : num(summaries[m].agreement, 2)) + "</td></tr>";
  }
  h += "</table>";

  // Errors.
  h += "<h2>Errors</h2>";
  bool any_error = false;
  for (size_t m = 0; m < run.models.size(); ++m) {
    const auto& s = summaries[m];
    if (!s.errors) continue;
    any_error = true;
    h += "<p><strong>" + html_escape(names[m]) + "</strong>: " + std::to_string(s.errors) + " of " +
         std::to_string(s.requests) + " requests failed.</p><ul>";
    for (const auto& e : s.error_samples) h += "<li class=\"err\">" + html_escape(e) + "</li>";
    h += "</ul>";
  }
  if (!any_error) h += "<p>No request failed.</p>";

  // Answers.
  h += "<h2>Answers (first run)</h2>";
  for (size_t p = 0; p < run.prompts.size(); ++p) {
    h += "<details><summary>Prompt " + std::to_string(p + 1) + ": " +
         html_escape(run.prompts[p].label) +
         "</summary><table><tr><th>model</th><th>answer"
         "</th></tr>";
    for (const auto& r : run.records) {
      if (r.prompt != p || r.run != 0) continue;
      h += "<tr><td>" + html_escape(names[r.model]) + "</td><td>" +
           (r.ok ? "<pre>" + html_escape(r.answer) + "</pre>"
                 : "<span class=\"err\">error: " + html_escape(r.error) + "</span>") +
           "</td></tr>";
    }
    h += "</table></details>";
  }

  // The decision matrix.
  h += "<h2>Decision matrix: SLM vs LLM</h2><table><tr><th>criterion</th>";
  for (size_t m = 0; m < names.size(); ++m) {
    // Which side of the SLM-vs-LLM question a model is on, by where its answers came from.
    const auto& s = summaries[m];
    const char* side = run.models[m].kind == ModelKind::kLocal ? "SLM: on this machine"
                       : s.data_left_machine || run.models[m].kind == ModelKind::kRemote
                           ? "LLM: remote"
                           : "route: answered here";
    h += "<th>" + html_escape(names[m]) + "<br><span class=\"meta\">" + side + "</span></th>";
  }
  h += "</tr>";
  for (const auto& row : decision.rows) {
    h += "<tr><th>" + html_escape(row.criterion) + "</th>";
    for (const auto& cell : row.cells) {
      const std::string rating(rating_name(cell.rating));
      h += "<td class=\"" + rating + "\"><span class=\"rating\">" + rating + "</span><br>" +
           html_escape(cell.figure) + "</td>";
    }
    h += "</tr>";
  }
  h += "</table><p class=\"verdict\">" + html_escape(decision.verdict) + "</p>";
  h += "<h3>Rules</h3><ul>";
  for (const auto& row : decision.rows) {
    h += "<li><strong>" + html_escape(row.criterion) + "</strong>: " + html_escape(row.rule) +
         "</li>";
  }
  h += "<li><strong>verdict</strong>: a model qualifies when capability and reliability are at "
       "least fair; a qualifying model whose privacy is good (every prompt stayed here) is "
       "preferred, the fastest by end-to-end p95 first; else the fastest qualifying model that "
       "sends data away.</li></ul>";
  h += "</body></html>\n";
  return h;
}

}  // namespace hearth::compare
