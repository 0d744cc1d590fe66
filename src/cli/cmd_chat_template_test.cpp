// End-to-end check of `hearth chat-template`: runs the built binary on a fixture template.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/fixtures.h"

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs a shell command and captures stdout (stderr is folded in when `merge_stderr`).
RunResult run(const std::string& command, bool merge_stderr) {
  RunResult result;
  std::string full = command + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* pipe = popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class ChatTemplateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = hearth::testing::hearth_binary();
    if (!std::filesystem::exists(binary_)) GTEST_SKIP() << "no hearth binary at " << binary_;
    templates_ = hearth::testing::fixtures_dir() / "templates";
    if (!std::filesystem::exists(templates_)) GTEST_SKIP() << "fixtures not found";
    dir_ = std::filesystem::temp_directory_path() /
           ("hearth_chat_template_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    messages_ = dir_ / "messages.json";
    std::ofstream(messages_) << R"([{"role": "user", "content": "Hello!"}])";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }

  std::string binary_;
  std::filesystem::path templates_, dir_, messages_;
};

TEST_F(ChatTemplateCli, PrintsTheRenderedPromptExactly) {
  RunResult r = run(binary_ + " chat-template --template " +
                        (templates_ / "google-gemma-2-2b-it.jinja").string() + " --messages " +
                        messages_.string() + " --bos-token '<bos>' --eos-token '<eos>'",
                    false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "<bos><start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n");

  r = run(binary_ + " chat-template --no-generation-prompt --template " +
              (templates_ / "google-gemma-2-2b-it.jinja").string() + " --messages " +
              messages_.string(),
          false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "<start_of_turn>user\nHello!<end_of_turn>\n");
}

TEST_F(ChatTemplateCli, ReportsTemplateErrorsOnStderr) {
  std::ofstream(messages_) << R"([{"role": "system", "content": "x"}])";
  RunResult r = run(binary_ + " chat-template --template " +
                        (templates_ / "google-gemma-2-2b-it.jinja").string() + " --messages " +
                        messages_.string(),
                    true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("System role not supported"), std::string::npos) << r.out;
}

TEST_F(ChatTemplateCli, PassesToolsToTheTemplate) {
  auto tools = dir_ / "tools.json";
  std::ofstream(tools) << R"([{"type": "function", "function": {"name": "get_weather",
      "description": "d", "parameters": {"type": "object", "properties": {}}}}])";
  RunResult r = run(binary_ + " chat-template --template " +
                        (templates_ / "Qwen-Qwen2.5-7B-Instruct.jinja").string() + " --messages " +
                        messages_.string() + " --tools " + tools.string(),
                    false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find(R"({"type": "function", "function": {"name": "get_weather")"),
            std::string::npos)
      << r.out;
}

// Qwen3's thinking switch, from the template inside the model file as the server renders it:
// enable_thinking false closes an empty think block after the generation prompt.
TEST_F(ChatTemplateCli, PassesKwargsToTheModelsTemplate) {
  const auto model = hearth::testing::fixtures_dir() / "models" / "tiny-qwen3-f16.gguf";
  if (!std::filesystem::exists(model)) GTEST_SKIP() << "no " << model;
  const std::string base =
      binary_ + " chat-template -m " + model.string() + " --messages " + messages_.string();
  const std::string prompt = "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n";
  RunResult r = run(base, false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, prompt);
  r = run(base + R"( --kwargs '{"enable_thinking": true}')", false);
  EXPECT_EQ(r.out, prompt);
  r = run(base + R"( --kwargs '{"enable_thinking": false}')", false);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, prompt + "<think>\n\n</think>\n\n");
  r = run(base + " --kwargs '[1]'", true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("--kwargs must be a JSON object"), std::string::npos) << r.out;
}

}  // namespace
