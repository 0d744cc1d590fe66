// `hearth model` and `hearth cache` through the binary, against the local test hub.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "support/fixtures.h"
#include "support/process.h"
#include "support/test_hub.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;
using testing::TestHub;

class ModelCli : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hearth-model-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
  }
  void TearDown() override { fs::remove_all(home_); }

  std::string hearth(const std::string& args) const {
    return testing::env_prefix({{"HEARTH_HOME", home_.string()},
                                {"HEARTH_HUB_URL", hub_.url()},
                                {"HEARTH_DOWNLOAD_STALL_SECONDS", "5"},
                                {"HF_TOKEN", ""}}) +
           testing::shell_quote(testing::hearth_binary()) + " " + args;
  }
  fs::path cached_stories() const {
    return home_ / "models/ggml-org/models/tinyllamas/stories260K.gguf";
  }

  TestHub hub_;
  fs::path home_;
};

TEST_F(ModelCli, ListFiltersByTaskAndShowsCachedOnes) {
  auto code = testing::run_shell(hearth("model list --filter task=code"));
  ASSERT_EQ(code.exit_code, 0) << code.output;
  EXPECT_NE(code.output.find("qwen2.5-coder-1.5b"), std::string::npos);
  EXPECT_EQ(code.output.find("llama-3.2-1b"), std::string::npos);
  auto bad = testing::run_shell(hearth("model list --filter task=juggling"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("unknown task"), std::string::npos);
  auto none = testing::run_shell(hearth("model list --cached"));
  EXPECT_EQ(none.output.find("tinystories-260k"), std::string::npos);
  ASSERT_EQ(testing::run_shell(hearth("model download tinystories-260k")).exit_code, 0);
  auto cached = testing::run_shell(hearth("model list --cached"));
  EXPECT_NE(cached.output.find("tinystories-260k"), std::string::npos) << cached.output;
  EXPECT_NE(cached.output.find("f32*"), std::string::npos);
}

TEST_F(ModelCli, InfoSuggestsTheAliasForATypo) {
  auto r = testing::run_shell(hearth("model info phi-4-mni"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("did you mean phi-4-mini"), std::string::npos) << r.output;
  auto ok = testing::run_shell(hearth("model info qwen2.5-0.5b"));
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ok.output.find("Apache-2.0"), std::string::npos);
  EXPECT_NE(ok.output.find("Qwen/Qwen2.5-0.5B-Instruct-GGUF"), std::string::npos);
}

TEST_F(ModelCli, DownloadVerifiesAndCacheCommandsManageIt) {
  auto r = testing::run_shell(hearth("model download tinystories-260k"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("verified"), std::string::npos) << r.output;
  EXPECT_EQ(testing::read_file(cached_stories()),
            testing::read_file(testing::fixtures_dir() / "models" / "stories260K.gguf"));
  auto location = testing::run_shell(hearth("cache location"));
  EXPECT_NE(location.output.find((home_ / "models").string()), std::string::npos);
  auto list = testing::run_shell(hearth("cache list"));
  EXPECT_NE(list.output.find("cached"), std::string::npos);
  EXPECT_NE(list.output.find("tinyllamas/stories260K.gguf"), std::string::npos);
  EXPECT_NE(list.output.find("tinystories-260k:f32"), std::string::npos) << list.output;

  fs::resize_file(cached_stories(), 1000);  // damaged after download
  auto damaged = testing::run_shell(hearth("cache list"));
  EXPECT_NE(damaged.output.find("corrupt"), std::string::npos) << damaged.output;
  auto again = testing::run_shell(hearth("model download tinystories-260k"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("no longer verifies"), std::string::npos) << again.output;

  auto removed = testing::run_shell(hearth("cache remove tinystories-260k"));
  ASSERT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_FALSE(fs::exists(cached_stories()));
  EXPECT_EQ(testing::run_shell(hearth("cache prune")).exit_code, 0);
}

TEST_F(ModelCli, TwoProcessesDownloadingOneFileShareOneTransfer) {
  hub_.set_mode(TestHub::Mode::kCrawl);
  const std::string a = (home_ / "a.log").string(), b = (home_ / "b.log").string();
  auto r = testing::run_shell(
      "sh -c " +
      testing::shell_quote(hearth("model download tinystories-260k") + " > " + a +
                           " 2>&1 & p=$!; sleep 0.3; " + hearth("model download tinystories-260k") +
                           " > " + b + " 2>&1; rb=$?; wait $p; echo codes $? $rb"));
  EXPECT_NE(r.output.find("codes 0 0"), std::string::npos)
      << r.output << testing::read_file(a) << testing::read_file(b);
  EXPECT_EQ(hub_.requests(), 1);
  // Whichever started second waited for the other's lock (start-up order is up to the OS).
  const std::string logs = testing::read_file(a) + testing::read_file(b);
  EXPECT_NE(logs.find("another hearth process is downloading"), std::string::npos) << logs;
  EXPECT_EQ(testing::read_file(cached_stories()),
            testing::read_file(testing::fixtures_dir() / "models" / "stories260K.gguf"));
}

TEST_F(ModelCli, AFullDiskLeavesNothingCachedAndSaysSo) {
  // RLIMIT_FSIZE stands in for a small disk: writes beyond it fail like a full one.
  auto r =
      testing::run_shell("prlimit --fsize=300000 " + hearth("model download tinystories-260k"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nothing was cached"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(cached_stories()));
  EXPECT_FALSE(fs::exists(cached_stories().string() + ".partial"));
  auto list = testing::run_shell(hearth("cache list"));
  EXPECT_EQ(list.output.find(" cached "), std::string::npos) << list.output;
}

TEST_F(ModelCli, ChecksumFailureAndNotFoundAreReported) {
  hub_.set_mode(TestHub::Mode::kWrongBytes);
  auto bad = testing::run_shell(hearth("model download tinystories-260k"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("checksum mismatch"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(cached_stories()));
  hub_.set_mode(TestHub::Mode::kNotFound);
  auto missing = testing::run_shell(hearth("model download hf://nobody/nothing/none.gguf"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("404"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace hearth
