#include "catalog/download.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "support/test_hub.h"

namespace hearth::catalog {
namespace {

namespace fs = std::filesystem;
using testing::TestHub;

class Download : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hearth-download-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
    options_.hub_url = hub_.url();
    options_.on_message = [this](const std::string& m) { messages_.push_back(m); };
  }
  void TearDown() override { fs::remove_all(home_); }

  Variant stories(bool with_checksum = true) const {
    Variant v;
    v.quantization = "f32";
    v.repo = "ggml-org/models";
    v.file = "tinyllamas/stories260K.gguf";
    if (with_checksum) v.sha256 = *sha256_file(fixture());
    return v;
  }
  static fs::path fixture() { return testing::fixtures_dir() / "models" / "stories260K.gguf"; }

  TestHub hub_;
  fs::path home_;
  DownloadOptions options_;
  std::vector<std::string> messages_;
};

TEST_F(Download, FetchesVerifiesRenamesAndThenServesFromCache) {
  std::vector<DownloadProgress> progress;
  options_.on_progress = [&](const DownloadProgress& p) { progress.push_back(p); };
  auto r = download(home_, stories(), options_);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->was_cached);
  EXPECT_EQ(r->file, home_ / "models/ggml-org/models/tinyllamas/stories260K.gguf");
  EXPECT_EQ(testing::read_file(r->file), testing::read_file(fixture()));
  EXPECT_FALSE(fs::exists(r->file.string() + ".partial"));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().done, fs::file_size(fixture()));
  EXPECT_EQ(cache_lookup(home_, stories(), true).state, CacheState::kCached);

  const int requests = hub_.requests();
  auto again = download(home_, stories(), options_);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->was_cached);
  EXPECT_EQ(hub_.requests(), requests);  // nothing fetched
}

TEST_F(Download, ResumesWithRangeAfterTheConnectionDrops) {
  hub_.set_mode(TestHub::Mode::kDropHalfway);
  hub_.set_drops(1);
  auto r = download(home_, stories(), options_);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(testing::read_file(r->file), testing::read_file(fixture()));
  const auto ranges = hub_.ranges();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], "bytes=" + std::to_string(fs::file_size(fixture()) / 2) + "-");
}

TEST_F(Download, AnInterruptedDownloadIsNotCachedAndTheNextRunResumes) {
  hub_.set_mode(TestHub::Mode::kDropHalfway);
  hub_.set_drops(100);
  options_.max_attempts = 2;
  auto r = download(home_, stories(), options_);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("resume"), std::string::npos) << r.error().message;
  const auto paths = cache_paths(home_, stories());
  EXPECT_FALSE(fs::exists(paths.file));
  EXPECT_TRUE(fs::exists(paths.partial));
  EXPECT_FALSE(paths.partial.string().ends_with(".gguf"));
  EXPECT_EQ(cache_lookup(home_, stories(), false).state, CacheState::kPartial);

  hub_.set_mode(TestHub::Mode::kNormal);
  auto resumed = download(home_, stories(), options_);
  ASSERT_TRUE(resumed.has_value()) << resumed.error().message;
  EXPECT_NE(hub_.ranges().back(), "");
  EXPECT_EQ(testing::read_file(resumed->file), testing::read_file(fixture()));
}

TEST_F(Download, WrongBytesFailTheChecksumAndLeaveNothing) {
  hub_.set_mode(TestHub::Mode::kWrongBytes);
  auto r = download(home_, stories(), options_);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("checksum mismatch"), std::string::npos) << r.error().message;
  const auto paths = cache_paths(home_, stories());
  EXPECT_FALSE(fs::exists(paths.file));
  EXPECT_FALSE(fs::exists(paths.partial));
  EXPECT_EQ(cache_lookup(home_, stories(), false).state, CacheState::kMissing);
}

TEST_F(Download, WithoutACatalogChecksumTheHubEtagIsUsed) {
  hub_.set_mode(TestHub::Mode::kWrongBytes);  // ETag carries the true sha256
  auto bad = download(home_, stories(/*with_checksum=*/false), options_);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("checksum mismatch"), std::string::npos);

  hub_.set_mode(TestHub::Mode::kNormal);
  auto good = download(home_, stories(false), options_);
  ASSERT_TRUE(good.has_value()) << good.error().message;
  EXPECT_TRUE(good->checksum_known);
}

TEST_F(Download, NoChecksumAnywhereStillDownloadsButSaysSo) {
  hub_.set_mode(TestHub::Mode::kNoChecksum);
  auto r = download(home_, stories(false), options_);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_FALSE(r->checksum_known);
}

TEST_F(Download, NotFoundIsAClearError) {
  hub_.set_mode(TestHub::Mode::kNotFound);
  auto r = download(home_, stories(), options_);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("not found"), std::string::npos) << r.error().message;
  EXPECT_FALSE(fs::exists(cache_paths(home_, stories()).partial));
}

TEST_F(Download, ACachedFileThatNoLongerVerifiesIsReportedAndFetchedAgain) {
  auto r = download(home_, stories(), options_);
  ASSERT_TRUE(r.has_value());
  {  // flip a byte in place: same size, only a full verify notices
    std::fstream f(r->file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('\x7f');
  }
  EXPECT_EQ(cache_lookup(home_, stories(), false).state, CacheState::kCached);
  const auto checked = cache_lookup(home_, stories(), true);
  EXPECT_EQ(checked.state, CacheState::kCorrupt);
  EXPECT_NE(checked.problem.find("sha256"), std::string::npos);

  DownloadOptions verifying = options_;
  verifying.verify_cached = true;
  auto refetched = download(home_, stories(), verifying);  // a full check notices and fetches again
  ASSERT_TRUE(refetched.has_value()) << refetched.error().message;
  EXPECT_FALSE(refetched->was_cached);
  EXPECT_EQ(cache_lookup(home_, stories(), true).state, CacheState::kCached);

  fs::resize_file(r->file, 100);  // truncated: even the quick check sees it
  EXPECT_EQ(cache_lookup(home_, stories(), false).state, CacheState::kCorrupt);
  auto again = download(home_, stories(), options_);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_FALSE(again->was_cached);
  EXPECT_EQ(cache_lookup(home_, stories(), true).state, CacheState::kCached);

  auto freed = cache_remove(home_, stories());
  ASSERT_TRUE(freed.has_value());
  EXPECT_GE(*freed, fs::file_size(fixture()));
  EXPECT_EQ(cache_lookup(home_, stories(), false).state, CacheState::kMissing);
}

TEST_F(Download, PruneRemovesPartialsAndCorruptFiles) {
  hub_.set_mode(TestHub::Mode::kDropHalfway);
  hub_.set_drops(100);
  options_.max_attempts = 1;
  ASSERT_FALSE(download(home_, stories(), options_).has_value());
  ASSERT_EQ(cache_list(home_, false).size(), 1u);
  auto freed = cache_prune(home_);
  ASSERT_TRUE(freed.has_value());
  EXPECT_GT(*freed, 0u);
  EXPECT_TRUE(cache_list(home_, false).empty());
}

TEST_F(Download, TwoDownloadersOfOneFileNeverWriteItTogether) {
  hub_.set_mode(TestHub::Mode::kCrawl);
  Result<DownloadResult> a = fail(""), b = fail("");
  DownloadOptions quiet = options_;
  quiet.on_message = nullptr;
  std::thread first([&] { a = download(home_, stories(), quiet); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  b = download(home_, stories(), quiet);
  first.join();
  ASSERT_TRUE(a.has_value()) << a.error().message;
  ASSERT_TRUE(b.has_value()) << b.error().message;
  EXPECT_TRUE(a->was_cached != b->was_cached);  // one fetched, the other waited and found it
  EXPECT_EQ(hub_.requests(), 1);
}

}  // namespace
}  // namespace hearth::catalog
