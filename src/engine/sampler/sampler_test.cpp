#include "engine/sampler/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "engine/sampler/stop_strings.h"

namespace hearth {
namespace {

TEST(Sampler, GreedyAtTemperatureZero) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> logits = {0.1f, 3.0f, 2.9f, -1.0f};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, NanNeverWins) {
  SamplerParams p;
  p.temperature = 0;
  Sampler s(p);
  std::vector<float> logits = {NAN, 1.0f, NAN};
  EXPECT_EQ(s.sample(logits), 1);
}

TEST(Sampler, LogitBiasCanForceOrBanAToken) {
  SamplerParams p;
  p.temperature = 0;
  p.logit_bias = {{0, 100.0f}, {1, -100.0f}};
  Sampler s(p);
  std::vector<float> logits = {0.0f, 5.0f, 1.0f};
  EXPECT_EQ(s.sample(logits), 0);
}

TEST(Sampler, SeedReproducesTheSameDraws) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.seed = 42;
  std::vector<float> logits(50);
  for (int i = 0; i < 50; ++i) logits[i] = std::sin(i * 0.7f);
  Sampler a(p), b(p);
  std::vector<int32_t> da, db;
  for (int i = 0; i < 100; ++i) {
    da.push_back(a.sample(logits));
    db.push_back(b.sample(logits));
  }
  EXPECT_EQ(da, db);
  p.seed = 43;
  Sampler c(p);
  std::vector<int32_t> dc;
  for (int i = 0; i < 100; ++i) dc.push_back(c.sample(logits));
  EXPECT_NE(da, dc);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  Sampler s(p);
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++counts[s.sample(logits)];
  EXPECT_NEAR(counts[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.02);
  EXPECT_NEAR(counts[2] / double(n), 0.2, 0.02);
}

TEST(Sampler, TopKTopPAndMinPRestrictTheChoice) {
  std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  auto seen = [&](SamplerParams p) {
    Sampler s(p);
    std::map<int32_t, int> counts;
    for (int i = 0; i < 3000; ++i) ++counts[s.sample(logits)];
    return counts;
  };
  SamplerParams base;
  base.temperature = 1.0f;
  base.top_k = 0;
  base.top_p = 1.0f;
  base.min_p = 0.0f;
  auto k = base;
  k.top_k = 2;
  EXPECT_EQ(seen(k).size(), 2u);
  auto tp = base;
  tp.top_p = 0.75f;  // 0.5 + 0.3 reaches it
  EXPECT_EQ(seen(tp).size(), 2u);
  auto mp = base;
  mp.min_p = 0.25f;  // floor 0.125: keeps 0.5, 0.3, 0.15
  EXPECT_EQ(seen(mp).size(), 3u);
}

// The nucleus over a large vocabulary, computed the obvious way: sort everything. Returned
// in order, most likely first.
std::vector<int32_t> nucleus(const std::vector<float>& logits, double top_p) {
  std::vector<int32_t> order(logits.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  double total = 0;
  for (float l : logits) total += std::exp(double(l) - logits[order[0]]);
  std::vector<int32_t> out;
  double mass = 0;
  for (int32_t id : order) {
    out.push_back(id);
    mass += std::exp(double(logits[id]) - logits[order[0]]);
    if (mass >= top_p * total) break;
  }
  return out;
}

TEST(Sampler, TopPOverALargeVocabularyDrawsOnlyFromTheNucleus) {
  // A long, slowly decaying tail (the nucleus needs several threshold rounds to find), with
  // ids shuffled so id order says nothing about probability; and a flat distribution, where
  // ties are broken by id.
  std::mt19937 rng(7);
  std::vector<float> tail(20000);
  for (size_t i = 0; i < tail.size(); ++i) tail[i] = -0.004f * static_cast<float>(i);
  std::shuffle(tail.begin(), tail.end(), rng);
  const std::vector<float> flat(1000, 0.5f);
  for (const std::vector<float>* logits : std::vector<const std::vector<float>*>{&tail, &flat}) {
    for (float top_p : {0.3f, 0.9f, 0.999f}) {
      SamplerParams p;
      p.temperature = 1.0f;
      p.top_k = 0;
      p.min_p = 0.0f;
      p.top_p = top_p;
      Sampler s(p);
      const auto order = nucleus(*logits, top_p);
      const std::set<int32_t> allowed(order.begin(), order.end());
      // The nucleus's least likely members holding its last ~20% of mass: a sampler that
      // cut the nucleus short would (almost surely) never draw them in 400 tries.
      std::set<int32_t> late;
      double nucleus_mass = 0, mass = 0;
      for (int32_t id : order) nucleus_mass += std::exp(double((*logits)[id]));
      for (int32_t id : order) {
        if (mass >= 0.8 * nucleus_mass) late.insert(id);
        mass += std::exp(double((*logits)[id]));
      }
      int late_draws = 0;
      for (int i = 0; i < 400; ++i) {
        const int32_t id = s.sample(*logits);
        ASSERT_TRUE(allowed.contains(id)) << "top_p " << top_p << " drew " << id;
        late_draws += late.contains(id);
      }
      if (order.size() > 1) {
        EXPECT_GT(late_draws, 0) << "top_p " << top_p;
      }
    }
  }
}

TEST(Sampler, EverythingBannedStillReturnsAToken) {
  std::vector<float> logits(5, -std::numeric_limits<float>::infinity());
  SamplerParams p;
  p.temperature = 1.0f;
  Sampler s(p);
  const int32_t id = s.sample(logits);
  EXPECT_GE(id, 0);
  EXPECT_LT(id, 5);
}

TEST(Sampler, PenaltiesDiscourageRepeats) {
  SamplerParams p;
  p.temperature = 0;
  p.presence_penalty = 1.5f;
  Sampler s(p);
  std::vector<float> logits = {2.0f, 1.0f};
  EXPECT_EQ(s.sample(logits), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(logits), 1);  // 2.0 - 1.5 < 1.0

  SamplerParams r;
  r.temperature = 0;
  r.repeat_penalty = 3.0f;
  Sampler rs(r);
  rs.accept(0);
  EXPECT_EQ(rs.sample(logits), 1);  // 2.0 / 3 < 1.0
  std::vector<float> negative = {-1.0f, -2.0f};
  EXPECT_EQ(rs.sample(negative), 1);  // -1 * 3 < -2
}

TEST(Sampler, ValidateNamesTheParameter) {
  SamplerParams p;
  p.temperature = -1;
  auto st = p.validate();
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0;
  EXPECT_FALSE(p.validate());
  p = {};
  EXPECT_TRUE(p.validate());
}

TEST(StopStrings, HoldsBackPossiblePrefixes) {
  StopStrings s({"<END>", "\n\n"});
  EXPECT_EQ(s.push("Hello <"), "Hello ");
  EXPECT_EQ(s.push("EN"), "");
  EXPECT_EQ(s.push("X more"), "<ENX more");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.push(" text\n"), " text");
  EXPECT_EQ(s.push("\nignored"), "");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.push("after"), "");
  EXPECT_EQ(s.finish(), "");
}

TEST(StopStrings, MatchInsideOnePieceAndFlushAtEnd) {
  StopStrings s({"stop"});
  EXPECT_EQ(s.push("abc stop def"), "abc ");
  EXPECT_TRUE(s.stopped());
  StopStrings t({"stop"});
  EXPECT_EQ(t.push("the st"), "the ");
  EXPECT_EQ(t.finish(), "st");
  StopStrings none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

}  // namespace
}  // namespace hearth
