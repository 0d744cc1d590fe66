#include "server/response_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

class ResponseStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth-response-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ResponseStore> open(size_t max_responses = 1000) {
    auto store = ResponseStore::open({dir_ / "sub" / "responses.sqlite", max_responses});
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  static json response(const std::string& id) {
    return {{"id", id}, {"object", "response"}, {"created_at", 5}, {"status", "completed"}};
  }

  fs::path dir_;
};

TEST_F(ResponseStoreTest, PutGetRemove) {
  auto store = open();
  ASSERT_TRUE(store);
  json conversation = json::array(
      {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "hello"}}});
  ASSERT_TRUE(store->put("resp_1", response("resp_1"), conversation));
  auto got = store->get("resp_1");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->response, response("resp_1"));
  EXPECT_EQ(got->conversation, conversation);

  auto missing = store->get("resp_nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find("resp_nope"), std::string::npos);

  EXPECT_EQ(store->remove("resp_1").value(), true);
  EXPECT_EQ(store->remove("resp_1").value(), false);
  EXPECT_FALSE(store->get("resp_1"));
}

TEST_F(ResponseStoreTest, KeepsOnlyTheNewest) {
  auto store = open(/*max_responses=*/3);
  ASSERT_TRUE(store);
  for (int i = 0; i < 5; ++i) {
    const std::string id = "resp_" + std::to_string(i);
    ASSERT_TRUE(store->put(id, response(id), json::array()));
  }
  EXPECT_EQ(store->count().value(), 3u);
  EXPECT_FALSE(store->get("resp_0"));
  EXPECT_FALSE(store->get("resp_1"));
  for (int i = 2; i < 5; ++i) EXPECT_TRUE(store->get("resp_" + std::to_string(i)));
  // Writing an id again makes it the newest.
  ASSERT_TRUE(store->put("resp_2", response("resp_2"), json::array()));
  ASSERT_TRUE(store->put("resp_5", response("resp_5"), json::array()));
  EXPECT_TRUE(store->get("resp_2"));
  EXPECT_FALSE(store->get("resp_3"));
  EXPECT_EQ(store->count().value(), 3u);
}

TEST_F(ResponseStoreTest, ReloadsAfterRestart) {
  {
    auto store = open();
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->put("resp_a", response("resp_a"),
                           json::array({{{"role", "user"}, {"content", "remember me"}}})));
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto got = store->get("resp_a");
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->conversation[0]["content"], "remember me");
}

TEST_F(ResponseStoreTest, CorruptFileIsAClearErrorAndIsNotOverwritten) {
  fs::create_directories(dir_ / "sub");
  const fs::path file = dir_ / "sub" / "responses.sqlite";
  const std::string garbage(8192, 'x');
  std::ofstream(file, std::ios::binary) << garbage;
  auto store = ResponseStore::open({file, 10});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kDataLoss);
  EXPECT_NE(store.error().message.find(file.string()), std::string::npos) << store.error().message;
  EXPECT_EQ(fs::file_size(file), garbage.size());
}

TEST_F(ResponseStoreTest, DamagedPagesAreFoundWhenOpening) {
  const fs::path file = dir_ / "sub" / "responses.sqlite";
  {
    auto store = open();
    ASSERT_TRUE(store);
    for (int i = 0; i < 50; ++i) {
      const std::string id = "resp_" + std::to_string(i);
      ASSERT_TRUE(
          store->put(id, response(id), json::array({{{"content", std::string(500, 'y')}}})));
    }
  }
  // Overwrite everything after the header page: the header still says SQLite.
  const auto size = fs::file_size(file);
  ASSERT_GT(size, 8192u);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string junk(size - 4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = ResponseStore::open({file, 10});
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kDataLoss) << store.error().message;
}

}  // namespace
}  // namespace hearth::server
