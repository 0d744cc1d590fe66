// Golden tests for the families the older reference build cannot load (qwen3, gemma3): hearth's
// logits against reference/MODEL.nlc.json, with the rules of fixtures/README.md for those files.
// The references were made by the prebuilt llama.cpp CPU build inside npm's node-llama-cpp
// 3.21.1 on the F16 fixtures, and hold log-probabilities (logits minus a per-position constant),
// so every comparison is relative to the position's reference top-1 token:
// - teacher forcing: for each reference top-10 id that hearth also ranks in its top 10,
//   |(h_i - h_top1) - (r_i - r_top1)| <= tol * std (tol from tolerances-nlc.json);
// - hearth's argmax is the reference's wherever the reference's top-2 gap exceeds tol * std;
// - greedy: the first 8 generated tokens are the reference's.
// Teacher and greedy ids come from the reference (with BOS where the vocabulary asks for one),
// so no tokenizer is involved; tokenizer_vectors_test checks the files' `tokenize` cases.
//
// Families added later (tiny-mistral, tiny-smollm3, ...) have no fixture file: their GGUF is
// written here by the synthetic writer (models/synthetic.cpp, the shape of that name, F16,
// seed 1), and their reference lives in this repository (tests/golden/reference), made from
// that same file by tools/make_reference.mjs (node-llama-cpp 3.21.1's prebuilt llama.cpp, CPU;
// the script reproduces the fixtures' tiny-qwen3-f16.nlc.json exactly). The reference records
// the file's sha256: a changed writer fails here instead of comparing against another model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "catalog/cache.h"
#include "engine/gguf/gguf.h"
#include "engine/models/synthetic.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

using nlohmann::json;

constexpr size_t kGreedyMustMatch = 8;

struct NlcPosition {
  std::vector<std::pair<int32_t, double>> top;  // descending log-probabilities
  double std = 0;
};

struct NlcReference {
  double tol = 0;
  std::string model_sha256;  // synthetic models: the file the reference was made from
  std::vector<int32_t> teacher_ids;
  std::vector<NlcPosition> positions;
  std::vector<int32_t> greedy_prompt;
  std::vector<int32_t> greedy_generated;
};

// Fixture models have their reference beside them; synthetic ones in this repository.
bool is_synthetic(const std::string& name) {
  return models::find_synthetic_shape(name) != nullptr;
}

std::filesystem::path reference_dir(const std::string& name) {
  return is_synthetic(name) ? std::filesystem::path(HEARTH_TEST_REFERENCES)
                            : testing::fixtures_dir() / "reference";
}

NlcReference load_reference(const std::string& name) {
  const auto dir = reference_dir(name);
  NlcReference r;
  r.tol = json::parse(testing::read_file(dir / "tolerances-nlc.json"))[name].get<double>();
  const json j = json::parse(testing::read_file(dir / (name + ".nlc.json")));
  if (j.contains("model")) r.model_sha256 = j["model"].value("sha256", "");
  r.teacher_ids = j["teacher"]["ids"].get<std::vector<int32_t>>();
  for (const auto& p : j["teacher"]["positions"]) {
    NlcPosition pos;
    for (const auto& pair : p["top"])
      pos.top.emplace_back(pair[0].get<int32_t>(), pair[1].get<double>());
    pos.std = p["std"].get<double>();
    r.positions.push_back(std::move(pos));
  }
  r.greedy_prompt = j["greedy"]["prompt_ids"].get<std::vector<int32_t>>();
  r.greedy_generated = j["greedy"]["generated_ids"].get<std::vector<int32_t>>();
  return r;
}

// Writes the synthetic model `name` (F16, seed 1) once per process and checks that it is the
// file the reference was made from.
Result<std::filesystem::path> synthetic_model(const std::string& name, const NlcReference& ref) {
  const models::SyntheticShape* shape = models::find_synthetic_shape(name);
  auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
  if (!vocab) return std::unexpected(vocab.error());
  const auto path = std::filesystem::temp_directory_path() /
                    (name + "-f16-" + std::to_string(::getpid()) + ".gguf");
  if (auto st = models::write_synthetic_model(*shape, "f16", *vocab, path, /*seed=*/1); !st)
    return std::unexpected(st.error());
  auto sum = catalog::sha256_file(path);
  if (!sum) return std::unexpected(sum.error());
  if (*sum != ref.model_sha256) {
    std::filesystem::remove(path);
    return fail("the synthetic writer now writes " + name + " with sha256 " + *sum +
                ", the reference was made from " + ref.model_sha256 +
                ": remake it with tools/make_reference.mjs");
  }
  return path;
}

std::vector<int32_t> top_ids(std::span<const float> logits, size_t k) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  k = std::min(k, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  ids.resize(k);
  return ids;
}

class NlcReferenceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(testing::fixtures_dir() / "models"))
        << "fixtures not found at " << testing::fixtures_dir() << "; set HEARTH_FIXTURES";
    ref_ = load_reference(GetParam());
    static std::map<std::string, std::shared_ptr<const Model>> cache;
    auto& model = cache[GetParam()];
    if (!model) {
      std::filesystem::path path = testing::fixtures_dir() / "models" / (GetParam() + ".gguf");
      if (is_synthetic(GetParam())) {
        auto written = synthetic_model(GetParam(), ref_);
        ASSERT_TRUE(written.has_value()) << written.error().message;
        path = *written;
      }
      auto loaded = Model::load(path, ModelOptions{.n_threads = 2});
      // The model keeps its own mapping of the file: the name can go now.
      if (is_synthetic(GetParam())) std::filesystem::remove(path);
      ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
      model = *loaded;
    }
    model_ = model;
  }

  NlcReference ref_;
  std::shared_ptr<const Model> model_;
};

TEST_P(NlcReferenceTest, TeacherForcedLogProbsMatchReference) {
  const auto& ids = ref_.teacher_ids;
  ASSERT_EQ(ref_.positions.size(), ids.size());
  Session session(model_);
  ASSERT_TRUE(session.decode(ids, /*all_logits=*/true).has_value());
  double worst = 0;  // max |relative diff| / std over all compared ids
  int compared = 0, argmax_checked = 0;
  for (size_t p = 0; p < ids.size(); ++p) {
    const std::span<const float> h = session.logits(static_cast<int>(p));
    const NlcPosition& r = ref_.positions[p];
    const std::vector<int32_t> ours = top_ids(h, 10);
    const auto [r_top1_id, r_top1] = r.top[0];
    for (const auto& [id, r_value] : r.top) {
      if (std::find(ours.begin(), ours.end(), id) == ours.end()) continue;
      const double diff = std::abs((h[id] - h[r_top1_id]) - (r_value - r_top1)) / r.std;
      worst = std::max(worst, diff);
      ++compared;
      EXPECT_LE(diff, ref_.tol) << GetParam() << " position " << p << " id " << id;
    }
    if (r.top.size() > 1 && r.top[0].second - r.top[1].second > ref_.tol * r.std) {
      ++argmax_checked;
      EXPECT_EQ(ours[0], r_top1_id) << GetParam() << " position " << p;
    }
  }
  std::printf(
      "[ reference ] %s: %zu positions, %d log-probs compared, max |rel diff|/std %.4f "
      "(tol %.2f), %d argmax checks\n",
      GetParam().c_str(), ids.size(), compared, worst, ref_.tol, argmax_checked);
}

TEST_P(NlcReferenceTest, GreedyContinuationMatchesReference) {
  ASSERT_GE(ref_.greedy_generated.size(), kGreedyMustMatch);
  Session session(model_);
  ASSERT_TRUE(session.decode(ref_.greedy_prompt).has_value());
  std::vector<int32_t> generated;
  for (size_t step = 0; step < ref_.greedy_generated.size(); ++step) {
    const auto logits = session.logits();
    const int32_t next =
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    generated.push_back(next);
    if (step + 1 < ref_.greedy_generated.size()) {
      ASSERT_TRUE(session.decode(std::span(&next, 1)).has_value());
    }
  }
  size_t same = 0;
  while (same < generated.size() && generated[same] == ref_.greedy_generated[same]) ++same;
  std::printf("[ reference ] %s: greedy matches %zu/%zu tokens (need %zu)\n", GetParam().c_str(),
              same, generated.size(), kGreedyMustMatch);
  EXPECT_GE(same, kGreedyMustMatch) << GetParam() << " greedy continuation diverges early";
}

// Named Models/... so the per-kernel-level runs (tests/CMakeLists.txt) include them.
INSTANTIATE_TEST_SUITE_P(Models, NlcReferenceTest,
                         ::testing::Values("tiny-qwen3-f16", "tiny-gemma3-f16", "tiny-mistral",
                                           "tiny-smollm3", "tiny-qwen3moe"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace hearth
