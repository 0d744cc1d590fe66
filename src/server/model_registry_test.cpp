// ModelRegistry with a provider: on-demand loading, LRU eviction within the memory budget,
// never evicting a model in use, 507 when nothing can make room, TTL expiry.
#include "server/model_registry.h"

#include <gtest/gtest.h>

#include <thread>

#include "hearth/memory_estimate.h"
#include "server/metrics.h"
#include "server/served_model.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

namespace fs = std::filesystem;

// Serves fixture models by file stem ("stories260K", "tiny-qwen2-q8_0", ...).
class FixtureProvider : public ModelProvider {
 public:
  ApiResult<ModelSource> locate(const std::string& name, uint64_t /*memory_budget*/) override {
    const fs::path path = testing::fixtures_dir() / "models" / (name + ".gguf");
    std::error_code ec;
    if (!fs::exists(path, ec)) return api_fail(model_not_found(name));
    return ModelSource{name, path, fs::file_size(path)};
  }
  ApiResult<std::shared_ptr<ServedModel>> load(const ModelSource& source) override {
    ++loads;
    auto model = Model::load(source.path, ModelOptions{.n_threads = 1, .n_ctx = 64});
    if (!model) return api_fail(internal_error(model.error().message));
    SchedulerOptions options;
    options.n_slots = 1;
    options.n_ctx = 64;
    options.n_threads = 1;
    auto served = ServedModel::create(source.id, *model, options, &metrics);
    if (!served) return api_fail(internal_error(served.error().message));
    return std::shared_ptr<ServedModel>(std::move(*served));
  }
  Metrics metrics;
  int loads = 0;
};

class Registry : public ::testing::Test {
 protected:
  void SetUp() override { provider_ = std::make_shared<FixtureProvider>(); }
  void configure(uint64_t budget_mib, int ttl_seconds = 0) {
    registry_.set_provider(provider_, {budget_mib << 20, ttl_seconds});
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& m : registry_.loaded()) out.push_back(m.id);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::shared_ptr<FixtureProvider> provider_;
  ModelRegistry registry_;
};

TEST_F(Registry, LoadsOnDemandOnceAndUnknownNamesAre404) {
  configure(1024);
  ASSERT_TRUE(registry_.acquire("stories260K").has_value());
  ASSERT_TRUE(registry_.acquire("stories260K").has_value());
  EXPECT_EQ(provider_->loads, 1);
  auto missing = registry_.acquire("no-such-model");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().status, 404);
}

TEST_F(Registry, EvictsTheLeastRecentlyUsedIdleModel) {
  configure(40);  // two of the 12-16 MiB fixtures fit, three do not
  ASSERT_TRUE(registry_.acquire("tiny-qwen2-q8_0").has_value());
  ASSERT_TRUE(registry_.acquire("tiny-llama3-q8_0").has_value());
  ASSERT_TRUE(registry_.acquire("tiny-qwen2-q8_0").has_value());  // most recent now
  ASSERT_TRUE(registry_.acquire("tiny-phi3-q4_k_m").has_value());
  EXPECT_EQ(ids(), (std::vector<std::string>{"tiny-phi3-q4_k_m", "tiny-qwen2-q8_0"}));
  EXPECT_LE(registry_.memory_used(), registry_.memory_budget());
}

TEST_F(Registry, NeverEvictsAModelInUseAndSays507) {
  configure(20);                                       // one fixture at a time
  auto in_use = registry_.acquire("tiny-qwen2-q8_0");  // held: a request in flight
  ASSERT_TRUE(in_use.has_value());
  auto blocked = registry_.acquire("tiny-llama3-q8_0");
  ASSERT_FALSE(blocked.has_value());
  EXPECT_EQ(blocked.error().status, 507);
  EXPECT_NE(blocked.error().message.find("in flight"), std::string::npos)
      << blocked.error().message;
  EXPECT_EQ(ids(), std::vector<std::string>{"tiny-qwen2-q8_0"});

  in_use = std::unexpected(ApiError{});  // the request ends
  ASSERT_TRUE(registry_.acquire("tiny-llama3-q8_0").has_value());
  EXPECT_EQ(ids(), std::vector<std::string>{"tiny-llama3-q8_0"});

  configure(1);
  auto never = registry_.acquire("tiny-qwen2-q8_0");
  ASSERT_FALSE(never.has_value());
  EXPECT_EQ(never.error().status, 507);
  EXPECT_NE(never.error().message.find("memory budget"), std::string::npos);
}

TEST_F(Registry, BudgetCheckAndAccountingUseTheSameEstimate) {
  const fs::path path = testing::fixtures_dir() / "models" / "tiny-qwen2-q8_0.gguf";
  const uint64_t file_bytes = fs::file_size(path);
  configure(1024);
  auto loaded = registry_.acquire("tiny-qwen2-q8_0");
  ASSERT_TRUE(loaded.has_value());
  // The registry serves local models here: a ServedModel under the Backend interface.
  const ModelInfo& info = dynamic_cast<ServedModel&>(**loaded).model().info();
  const uint64_t expected = model_memory_bytes(
      file_bytes, {info.n_layer, info.n_head_kv, info.head_dim}, 64, 1, KvCacheType::kF16);
  EXPECT_GT(expected, file_bytes);  // the KV cache counts
  EXPECT_EQ(registry_.memory_used(), expected);
  loaded = std::unexpected(ApiError{});
  ASSERT_TRUE(registry_.unload("tiny-qwen2-q8_0", false).has_value());

  // A budget that holds the file but not its KV cache refuses the model, and keeps nothing.
  registry_.set_provider(provider_, {expected - 1, 0});
  auto refused = registry_.acquire("tiny-qwen2-q8_0");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().status, 507);
  EXPECT_NE(refused.error().message.find("memory budget"), std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(ids().empty());
  EXPECT_EQ(registry_.memory_used(), 0u);

  registry_.set_provider(provider_, {expected, 0});
  EXPECT_TRUE(registry_.acquire("tiny-qwen2-q8_0").has_value());
}

TEST_F(Registry, TheIdleClockStartsWhenTheLastRequestLetsGoEvenIfNoSweepSawItBusy) {
  configure(1024, /*ttl_seconds=*/1);
  auto held = registry_.acquire("stories260K");
  ASSERT_TRUE(held.has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // no sweep meanwhile
  held = std::unexpected(ApiError{});
  EXPECT_TRUE(registry_.expire_idle().empty()) << "idle time counted from the acquire";
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(registry_.expire_idle(), std::vector<std::string>{"stories260K"});
}

TEST_F(Registry, UnloadsIdleModelsAfterTheirTtlButNotWhileInUse) {
  configure(1024, /*ttl_seconds=*/1);
  auto held = registry_.acquire("stories260K");
  ASSERT_TRUE(held.has_value());
  ASSERT_TRUE(registry_.load("tiny-qwen2-q8_0", /*ttl_seconds=*/0).has_value());  // 0: stays
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_TRUE(registry_.expire_idle().empty());  // stories is in use, qwen2 has no TTL
  held = std::unexpected(ApiError{});
  registry_.expire_idle();  // the end of use restarts the idle clock
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_EQ(registry_.expire_idle(), std::vector<std::string>{"stories260K"});
  EXPECT_EQ(ids(), std::vector<std::string>{"tiny-qwen2-q8_0"});
  auto unload = registry_.unload("tiny-qwen2-q8_0", false);
  ASSERT_TRUE(unload.has_value());
  EXPECT_TRUE(ids().empty());
}

}  // namespace
}  // namespace hearth::server
