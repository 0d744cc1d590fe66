// /metrics text: per-model gauges with a model label, their unlabeled sums, and gauges that
// disappear with the model that registered them.
#include "server/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(Metrics, GaugesArePerModelWithTotals) {
  Metrics metrics;
  auto qwen = metrics.add_model("qwen2.5-0.5b");
  auto llama = metrics.add_model("llama-3.2-1b");
  qwen->queue_depth = 3;
  qwen->slots_busy = 4;
  qwen->slots_total = 4;
  llama->queue_depth = 0;
  llama->slots_busy = 1;
  llama->slots_total = 2;

  const std::string text = metrics.render();
  EXPECT_TRUE(has_line(text, "hearth_queue_depth 3")) << text;
  EXPECT_TRUE(has_line(text, "hearth_queue_depth{model=\"qwen2.5-0.5b\"} 3")) << text;
  EXPECT_TRUE(has_line(text, "hearth_queue_depth{model=\"llama-3.2-1b\"} 0")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_busy 5")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_busy{model=\"qwen2.5-0.5b\"} 4")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_busy{model=\"llama-3.2-1b\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_total 6")) << text;
  EXPECT_TRUE(has_line(text, "# TYPE hearth_slots_total gauge")) << text;
  // One HELP/TYPE header per family, labeled samples under it.
  EXPECT_EQ(text.find("# TYPE hearth_queue_depth gauge"),
            text.rfind("# TYPE hearth_queue_depth gauge"));
}

TEST(Metrics, UnloadedModelsDisappear) {
  Metrics metrics;
  auto kept = metrics.add_model("kept");
  auto unloaded = metrics.add_model("unloaded");
  kept->slots_total = 2;
  unloaded->slots_total = 3;
  unloaded.reset();
  const std::string text = metrics.render();
  EXPECT_EQ(text.find("model=\"unloaded\""), std::string::npos) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_total 2")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_total{model=\"kept\"} 2")) << text;
}

TEST(Metrics, NoModelsGiveZeroTotals) {
  const std::string text = Metrics().render();
  EXPECT_TRUE(has_line(text, "hearth_queue_depth 0")) << text;
  EXPECT_TRUE(has_line(text, "hearth_slots_busy 0")) << text;
  EXPECT_EQ(text.find("{model="), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  Metrics metrics;
  auto odd = metrics.add_model("a\"b\\c\nd");
  odd->slots_total = 1;
  EXPECT_TRUE(has_line(metrics.render(), "hearth_slots_total{model=\"a\\\"b\\\\c\\nd\"} 1"))
      << metrics.render();
}

}  // namespace
}  // namespace hearth::server
