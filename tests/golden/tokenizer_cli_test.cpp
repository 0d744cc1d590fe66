// `hearth tokenize` end to end: the binary must print exactly the reference ids.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/fixtures.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout only
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// Paths here hold no single quotes (fixtures and the temp directory).
std::string shell_quoted(const fs::path& path) {
  std::string out(1, '\'');
  out += path.string();
  out.push_back('\'');
  return out;
}

class TokenizerCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // The subcommands are listed in the top-level help, one per line.
    if (run(shell_quoted(testing::hearth_binary()) + " --help").output.find("\n  tokenize ") ==
        std::string::npos) {
      GTEST_SKIP() << "hearth has no tokenize command registered in src/cli/main.cpp yet";
    }
    text_file_ =
        fs::temp_directory_path() / ("hearth_tokenize_" + std::to_string(::getpid()) + ".txt");
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove(text_file_, ignored);
  }

  std::vector<int32_t> tokenize(const fs::path& model, const std::string& text, bool raw,
                                int* exit_code = nullptr) {
    std::ofstream(text_file_, std::ios::binary) << text;
    const CommandResult result =
        run(shell_quoted(testing::hearth_binary()) + " tokenize -m " + shell_quoted(model) +
            (raw ? " --raw" : "") + " --file " + shell_quoted(text_file_));
    if (exit_code) *exit_code = result.exit_code;
    EXPECT_TRUE(result.output.ends_with("}\n")) << result.output;
    const auto json = nlohmann::json::parse(result.output, nullptr, false);
    if (json.is_discarded() || !json.contains("ids")) return {-1};
    return json["ids"].get<std::vector<int32_t>>();
  }

  fs::path text_file_;
};

TEST_F(TokenizerCli, PrintsReferenceIds) {
  const fs::path dir = testing::fixtures_dir();
  for (const char* model : {"stories260K", "tiny-llama-spm-f16", "tiny-qwen2-q8_0",
                            "tiny-llama3-q8_0", "tiny-phi3-q4_k_m"}) {
    const auto json = nlohmann::json::parse(
        testing::read_file(dir / "reference" / (std::string(model) + ".json")), nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << model;
    size_t passed = 0;
    for (const auto& item : json.at("tokenize")) {
      const auto ids =
          tokenize(dir / "models" / (std::string(model) + ".gguf"), item.at("text"), false);
      EXPECT_EQ(ids, item.at("ids").get<std::vector<int32_t>>()) << model << ": " << item["text"];
      passed += ids == item.at("ids").get<std::vector<int32_t>>();
    }
    std::printf("[ cli      ] %-20s %zu/%zu\n", model, passed, json.at("tokenize").size());
  }
}

TEST_F(TokenizerCli, RawSkipsBosAndSpecialTokens) {
  const fs::path model = testing::fixtures_dir() / "models" / "tiny-qwen2-q8_0.gguf";
  EXPECT_EQ(tokenize(model, "<|im_start|>", false), std::vector<int32_t>{151644});
  EXPECT_EQ(tokenize(model, "<|im_start|>", true),
            (std::vector<int32_t>{27, 91, 318, 4906, 91, 29}));
  const fs::path llama = testing::fixtures_dir() / "models" / "tiny-llama-spm-f16.gguf";
  EXPECT_EQ(tokenize(llama, "Hello world", true), (std::vector<int32_t>{15043, 3186}));
}

TEST_F(TokenizerCli, BadModelFailsWithExitCodeOne) {
  const std::string binary = shell_quoted(testing::hearth_binary());
  EXPECT_EQ(run(binary + " tokenize -m /nonexistent/model.gguf hello").exit_code, 1);
  EXPECT_EQ(
      run(binary + " tokenize -m " + shell_quoted(testing::fixtures_dir() / "README.md") + " hello")
          .exit_code,
      1);
  const CommandResult ok =
      run(binary + " tokenize -m " +
          shell_quoted(testing::fixtures_dir() / "models" / "stories260K.gguf") + " --raw ''");
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.output, "{\"ids\":[]}\n");
}

}  // namespace
}  // namespace hearth
