// Generation's end-of-context rule: prompt and completion together fill at most n_ctx tokens,
// the same rule the server's scheduler applies (context_is_full in generator.h).
#include "engine/runtime/generator.h"

#include <gtest/gtest.h>

#include <vector>

#include "support/fixtures.h"

namespace hearth {
namespace {

std::vector<int32_t> prompt_of(size_t n) {
  std::vector<int32_t> ids{1};  // BOS, then valid ids of stories260K's 512-token vocabulary
  for (size_t i = 1; i < n; ++i) ids.push_back(static_cast<int32_t>(260 + (i * 37) % 250));
  return ids;
}

TEST(GenerationContext, CompletionRoomFollowsTheRule) {
  EXPECT_EQ(completion_room(10, 16), 6);
  EXPECT_EQ(completion_room(15, 16), 1);
  EXPECT_EQ(completion_room(16, 16), 0);
  EXPECT_EQ(completion_room(20, 16), 0);
  EXPECT_FALSE(context_is_full(15, 16));
  EXPECT_TRUE(context_is_full(16, 16));
}

TEST(GenerationContext, PromptAndCompletionFillAtMostTheContext) {
  auto model = Model::load(testing::fixtures_dir() / "models" / "stories260K.gguf",
                           ModelOptions{.n_threads = 1});
  ASSERT_TRUE(model.has_value()) << model.error().message;
  Session session(*model, SessionOptions{.n_ctx = 16});
  GenerateOptions options;
  options.max_tokens = -1;
  options.ignore_eos = true;
  options.sampling.temperature = 0;
  for (size_t prompt_tokens : {10u, 15u, 16u}) {
    Generation generation(session);
    auto result = generation.run(prompt_of(prompt_tokens), options);
    ASSERT_TRUE(result.has_value()) << result.error().message;
    EXPECT_EQ(result->finish, FinishReason::kLength) << prompt_tokens;
    EXPECT_EQ(result->tokens.size(), 16 - prompt_tokens) << prompt_tokens;
  }
  Generation generation(session);
  EXPECT_FALSE(generation.run(prompt_of(17), options).has_value());
}

}  // namespace
}  // namespace hearth
