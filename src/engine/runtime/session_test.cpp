// Session and KV cache behaviour: the cache must make incremental decoding equivalent to
// evaluating everything at once, whatever the batching, and after rewinding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include "engine/models/model_weights.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

// Teacher text of prompts-stories.json as tokenized by the reference (BOS first).
const std::vector<int32_t> kStoryIds = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                                        421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};

std::shared_ptr<const Model> load(const std::string& name,
                                  ModelOptions options = {.n_threads = 2}) {
  auto model = Model::load(testing::fixtures_dir() / "models" / (name + ".gguf"), options);
  EXPECT_TRUE(model.has_value()) << (model ? "" : model.error().message);
  return model ? *model : nullptr;
}

using Rows = std::vector<std::vector<float>>;

Rows all_rows(const Session& s, int n) {
  Rows rows;
  for (int i = 0; i < n; ++i) rows.emplace_back(s.logits(i).begin(), s.logits(i).end());
  return rows;
}

// Largest |a - b| over all rows, relative to the spread of the logits, so the bound means the
// same for every model. Batched and incremental paths may sum in a different order, so the
// bound is float rounding, not bit equality.
void expect_same_logits(const Rows& expected, const Rows& actual, const char* what) {
  ASSERT_EQ(expected.size(), actual.size()) << what;
  for (size_t r = 0; r < expected.size(); ++r) {
    ASSERT_EQ(expected[r].size(), actual[r].size()) << what << " row " << r;
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < expected[r].size(); ++i) {
      max_diff = std::max<double>(max_diff, std::abs(expected[r][i] - actual[r][i]));
      max_abs = std::max<double>(max_abs, std::abs(expected[r][i]));
    }
    EXPECT_LE(max_diff, 1e-5 * std::max(1.0, max_abs)) << what << " row " << r;
  }
}

class ModelSessionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelSessionTest, CacheGivesSameLogitsForAnyBatchingAndAfterRewind) {
  auto model = load(GetParam());
  ASSERT_NE(model, nullptr);
  // Large vocabularies make every logits row costly (under sanitizers); 16 tokens still
  // cross every chunk and rewind boundary below.
  std::vector<int32_t> ids(kStoryIds.begin(),
                           kStoryIds.begin() + (model->info().n_vocab > 1000 ? 16 : 24));
  for (int32_t& id : ids) id %= model->info().n_vocab;
  const int n = static_cast<int>(ids.size());

  // F32 storage: this checks the cache's bookkeeping, which must be exact. With an F16 cache,
  // batches of different sizes take different matmul paths (GEMM from 8 tokens), whose
  // last-bit differences can round a key to a neighbouring F16 value; KvCacheTypesGiveClose-
  // Logits bounds that separately.
  const SessionOptions exact{.kv_type = KvCacheType::kF32};
  Session whole(model, exact);
  ASSERT_TRUE(whole.decode(ids, true).has_value());
  const Rows reference = all_rows(whole, n);

  Session one_by_one(model, exact);
  Rows rows;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(one_by_one.decode(std::span(&ids[i], 1)).has_value());
    rows.emplace_back(one_by_one.logits().begin(), one_by_one.logits().end());
  }
  expect_same_logits(reference, rows, "token by token");

  Session chunks(model, exact);
  rows.clear();
  for (int begin = 0; begin < n;) {
    const int count = std::min(begin % 2 ? 3 : 7, n - begin);
    ASSERT_TRUE(chunks.decode(std::span(ids).subspan(begin, count), true).has_value());
    for (auto& r : all_rows(chunks, count)) rows.push_back(std::move(r));
    begin += count;
  }
  expect_same_logits(reference, rows, "chunks of 7 and 3");

  Session small_batches(model, SessionOptions{.n_batch = 5, .kv_type = KvCacheType::kF32});
  ASSERT_TRUE(small_batches.decode(ids, true).has_value());
  expect_same_logits(reference, all_rows(small_batches, n), "n_batch 5");

  // Rewind into the middle, then diverge and come back: the cache must forget the detour.
  const int keep = 10;
  whole.rewind(keep);
  EXPECT_EQ(whole.n_past(), keep);
  const int32_t detour[] = {ids[3], ids[4], ids[5]};
  ASSERT_TRUE(whole.decode(detour).has_value());
  whole.rewind(keep);
  ASSERT_TRUE(whole.decode(std::span(ids).subspan(keep), true).has_value());
  expect_same_logits(Rows(reference.begin() + keep, reference.end()), all_rows(whole, n - keep),
                     "after rewind");
  whole.rewind(0);
  ASSERT_TRUE(whole.decode(ids, true).has_value());
  expect_same_logits(reference, all_rows(whole, n), "after rewind to 0");
}

TEST_P(ModelSessionTest, DecodeBatchMatchesSeparateDecodes) {
  auto model = load(GetParam());
  ASSERT_NE(model, nullptr);
  std::vector<int32_t> ids = kStoryIds;
  for (int32_t& id : ids) id %= model->info().n_vocab;
  const auto part = [&](int begin, int count) { return std::span(ids).subspan(begin, count); };

  // Three conversations at different lengths, one of them empty.
  const SessionOptions exact{.kv_type = KvCacheType::kF32};  // see the test above
  Session a(model, exact), b(model, exact), c(model, exact);
  Session ref_a(model, exact), ref_b(model, exact), ref_c(model, exact);
  for (Session* s : {&a, &ref_a}) ASSERT_TRUE(s->decode(part(0, 5)).has_value());
  for (Session* s : {&b, &ref_b}) ASSERT_TRUE(s->decode(part(2, 9)).has_value());

  const DecodeRequest round1[] = {
      {&a, part(5, 1), false}, {&b, part(11, 3), true}, {&c, part(0, 4), false}};
  ASSERT_TRUE(Session::decode_batch(round1).has_value());
  ASSERT_TRUE(ref_a.decode(part(5, 1)).has_value());
  ASSERT_TRUE(ref_b.decode(part(11, 3), true).has_value());
  ASSERT_TRUE(ref_c.decode(part(0, 4)).has_value());
  expect_same_logits(all_rows(ref_a, 1), all_rows(a, 1), "a, round 1");
  expect_same_logits(all_rows(ref_b, 3), all_rows(b, 3), "b, round 1");
  EXPECT_EQ(c.n_logits(), 1);
  expect_same_logits({{ref_c.logits().begin(), ref_c.logits().end()}},
                     {{c.logits().begin(), c.logits().end()}}, "c, round 1");

  // A decode step for everyone, as a server does.
  const DecodeRequest round2[] = {{&c, part(4, 1)}, {&a, part(6, 1)}, {&b, part(14, 1)}};
  ASSERT_TRUE(Session::decode_batch(round2).has_value());
  for (auto [session, ref, token] :
       {std::tuple{&a, &ref_a, 6}, std::tuple{&b, &ref_b, 14}, std::tuple{&c, &ref_c, 4}}) {
    ASSERT_TRUE(ref->decode(part(token, 1)).has_value());
    EXPECT_EQ(session->n_past(), ref->n_past());
    expect_same_logits({{ref->logits().begin(), ref->logits().end()}},
                       {{session->logits().begin(), session->logits().end()}}, "round 2");
  }
}

TEST(ModelSession, DecodeBatchRejectsMisuseBeforeRunning) {
  auto model = load("stories260K");
  auto other = load("stories260K");
  ASSERT_NE(model, nullptr);
  ASSERT_NE(other, nullptr);
  Session a(model), b(model, SessionOptions{.n_ctx = 4}), stranger(other);
  const std::vector<int32_t> two = {1, 403}, five = {1, 403, 407, 261, 378};
  // b would overflow: nothing may run, a included.
  const DecodeRequest overflow[] = {{&a, two}, {&b, five}};
  auto status = Session::decode_batch(overflow);
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().message.find("request 1"), std::string::npos) << status.error().message;
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_EQ(b.n_past(), 0);
  const DecodeRequest twice[] = {{&a, two}, {&a, two}};
  EXPECT_FALSE(Session::decode_batch(twice).has_value());
  const DecodeRequest mixed[] = {{&a, two}, {&stranger, two}};
  EXPECT_FALSE(Session::decode_batch(mixed).has_value());
  EXPECT_EQ(a.n_past(), 0);
  EXPECT_TRUE(Session::decode_batch({}).has_value());
}

INSTANTIATE_TEST_SUITE_P(Models, ModelSessionTest,
                         ::testing::Values("stories260K", "tiny-phi3-q4_k_m"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ModelSession, ContextOverflowIsAnErrorAndLeavesTheSessionUnchanged) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{.n_ctx = 8});
  EXPECT_EQ(session.n_ctx(), 8);
  const std::vector<int32_t> nine(9, 5);
  auto status = session.decode(nine);
  ASSERT_FALSE(status.has_value());
  EXPECT_NE(status.error().message.find("context"), std::string::npos) << status.error().message;
  EXPECT_EQ(session.n_past(), 0);

  ASSERT_TRUE(session.decode(std::span(nine).first(8)).has_value());
  const std::vector<float> before(session.logits().begin(), session.logits().end());
  EXPECT_FALSE(session.decode(std::span(nine).first(1)).has_value());
  EXPECT_EQ(session.n_past(), 8);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), session.logits().begin()));
  session.rewind(7);
  EXPECT_TRUE(session.decode(std::span(nine).first(1)).has_value());
}

TEST(ModelSession, InvalidInputIsAnError) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  Session session(model);
  EXPECT_FALSE(session.decode(std::vector<int32_t>{}).has_value());
  EXPECT_FALSE(session.decode(std::vector<int32_t>{1, -1}).has_value());
  EXPECT_FALSE(session.decode(std::vector<int32_t>{1, model->info().n_vocab}).has_value());
  EXPECT_EQ(session.n_past(), 0);
  EXPECT_TRUE(session.logits().empty());
}

TEST(ModelSession, LogitRowsFollowTheRequest) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  Session session(model);
  const std::vector<int32_t> ids(kStoryIds.begin(), kStoryIds.begin() + 4);
  ASSERT_TRUE(session.decode(ids).has_value());
  EXPECT_EQ(session.n_logits(), 1);
  EXPECT_EQ(session.logits().size(), static_cast<size_t>(model->info().n_vocab));
  EXPECT_EQ(session.logits(3).data(), session.logits().data());
  EXPECT_TRUE(session.logits(0).empty());
  session.rewind(0);
  ASSERT_TRUE(session.decode(ids, true).has_value());
  EXPECT_EQ(session.n_logits(), 4);
  EXPECT_EQ(session.logits(-1).data(), session.logits(3).data());
  EXPECT_TRUE(session.logits(4).empty());
}

TEST(ModelSession, CreateReportsImpossibleOptionsAsErrors) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  EXPECT_FALSE(Session::create(model, SessionOptions{.n_ctx = -1}).has_value());
  EXPECT_FALSE(Session::create(model, SessionOptions{.n_ctx = 1 << 30}).has_value());
  EXPECT_FALSE(Session::create(nullptr).has_value());
  auto session = Session::create(model, SessionOptions{.n_ctx = 32});
  ASSERT_TRUE(session.has_value()) << session.error().message;
  EXPECT_EQ(session->n_ctx(), 32);
  EXPECT_TRUE(session->decode(std::span(kStoryIds).first(4)).has_value());
}

TEST(ModelSession, DefaultContextIsTheModelsCappedAt4096) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->info().n_ctx_train, 2048);
  EXPECT_EQ(Session(model).n_ctx(), 2048);
  auto small = load("stories260K", ModelOptions{.n_threads = 1, .n_ctx = 64});
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(Session(small).n_ctx(), 64);
  EXPECT_EQ(Session(small, SessionOptions{.n_ctx = 16}).n_ctx(), 16);
}

TEST(ModelSession, KvCacheTypesGiveCloseLogits) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  const auto ids = std::span(kStoryIds);
  Session exact(model, SessionOptions{.kv_type = KvCacheType::kF32});
  ASSERT_TRUE(exact.decode(ids.first(12)).has_value());
  ASSERT_TRUE(exact.decode(ids.subspan(12), true).has_value());
  const int n = static_cast<int>(ids.size()) - 12;
  const Rows reference = all_rows(exact, n);
  // Relative to the logits' spread: F16 keeps 11 significant bits, Q8_0 about 8.
  for (auto [type, tol] :
       {std::pair{KvCacheType::kF16, 0.01}, std::pair{KvCacheType::kQ8_0, 0.1}}) {
    Session session(model, SessionOptions{.kv_type = type});
    ASSERT_TRUE(session.decode(ids.first(12)).has_value());
    ASSERT_TRUE(session.decode(ids.subspan(12), true).has_value());
    const Rows rows = all_rows(session, n);
    for (int r = 0; r < n; ++r) {
      double max_diff = 0, max_abs = 0;
      for (size_t i = 0; i < rows[r].size(); ++i) {
        max_diff = std::max<double>(max_diff, std::abs(rows[r][i] - reference[r][i]));
        max_abs = std::max<double>(max_abs, std::abs(reference[r][i]));
      }
      EXPECT_LE(max_diff, tol * max_abs) << "type " << static_cast<int>(type) << " row " << r;
    }
  }
}

TEST(ModelSession, EmbedIsTheNormalizedMeanOfTheFinalStates) {
  auto model = load("stories260K");
  ASSERT_NE(model, nullptr);
  Session session(model, SessionOptions{.n_batch = 5});  // several forward passes
  const auto ids = std::span(kStoryIds).first(11);
  auto raw = session.embed(ids, false);
  ASSERT_TRUE(raw.has_value()) << raw.error().message;
  ASSERT_EQ(raw->size(), static_cast<size_t>(model->info().n_embd));
  EXPECT_EQ(session.n_past(), 0);
  EXPECT_EQ(session.n_logits(), 0);

  // Same input, same vector; also after the session decoded something else.
  ASSERT_TRUE(session.decode(std::span(kStoryIds).subspan(3, 4)).has_value());
  auto again = session.embed(ids, false);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*raw, *again);

  // Mean pooling: causality makes the state at position t that of the last token of the
  // prefix ids[0..t], so state_t = (t+1) * embed(prefix t+1) - t * embed(prefix t). Its
  // projection by the output matrix must be the logits that decode gives at position t.
  const WeightMatrix& output = model->weights().output;
  const auto d = raw->size();
  std::vector<float> previous(d, 0.0f), out_row(d);
  Session logits_session(model);
  ASSERT_TRUE(logits_session.decode(ids, true).has_value());
  for (size_t t = 0; t < ids.size(); ++t) {
    auto prefix = session.embed(ids.first(t + 1), false);
    ASSERT_TRUE(prefix.has_value());
    std::vector<double> state(d);
    for (size_t i = 0; i < d; ++i)
      state[i] = static_cast<double>(t + 1) * (*prefix)[i] - static_cast<double>(t) * previous[i];
    previous = *prefix;
    const auto logits = logits_session.logits(static_cast<int>(t));
    double max_abs = 0;
    for (float x : logits) max_abs = std::max<double>(max_abs, std::abs(x));
    for (int32_t v = 0; v < 8; ++v) {
      get_row(output, v, out_row.data());
      double logit = 0;
      for (size_t i = 0; i < d; ++i) logit += state[i] * out_row[i];
      EXPECT_NEAR(logit, logits[v], 1e-3 * max_abs) << "position " << t << " id " << v;
    }
  }

  auto normalized = session.embed(ids, true);
  ASSERT_TRUE(normalized.has_value());
  double norm_sq = 0;
  for (float x : *normalized) norm_sq += static_cast<double>(x) * x;
  EXPECT_NEAR(std::sqrt(norm_sq), 1.0, 1e-5);
  double raw_norm = 0;
  for (float x : *raw) raw_norm += static_cast<double>(x) * x;
  raw_norm = std::sqrt(raw_norm);
  for (size_t i = 0; i < raw->size(); ++i)
    EXPECT_NEAR((*normalized)[i], (*raw)[i] / raw_norm, 1e-5);

  EXPECT_FALSE(session.embed({}, true).has_value());
  const int32_t bad[] = {1, model->info().n_vocab};
  EXPECT_FALSE(session.embed(bad, true).has_value());
}

}  // namespace
}  // namespace hearth
