#include "server/conversation_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fstream>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

class ConversationStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth-conversation-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<ConversationStore> open() {
    auto store = ConversationStore::open(dir_ / "home" / "conversations.sqlite");
    EXPECT_TRUE(store) << (store ? "" : store.error().message);
    return store ? std::move(*store) : nullptr;
  }

  static ConversationMessage user(std::string text) { return {"user", std::move(text)}; }
  static ConversationMessage reply(std::string text) {
    return {"assistant", std::move(text), "stories", json{{"ttft_ms", 12.5}, {"predicted_n", 3}},
            json{{"prompt_tokens", 4}, {"completion_tokens", 3}}};
  }

  fs::path dir_;
};

TEST_F(ConversationStoreTest, CreateAppendGetSurviveReopen) {
  std::string id;
  {
    auto store = open();
    ASSERT_TRUE(store);
    ConversationUpdate first;
    first.title = "Stories";
    first.model = "stories";
    first.system_prompt = "Be brief.";
    first.params = json{{"temperature", 0.5}, {"seed", 7}};
    first.messages = std::vector<ConversationMessage>{user("Once upon a time")};
    auto created = store->create(first);
    ASSERT_TRUE(created) << created.error().message;
    id = created->summary.id;
    EXPECT_FALSE(id.empty());
    EXPECT_GT(created->summary.created_ms, 0);
    auto appended = store->append(id, {reply("there was a cat")});
    ASSERT_TRUE(appended) << appended.error().message;
    EXPECT_EQ(appended->messages.size(), 2u);
    EXPECT_GE(appended->summary.updated_ms, appended->summary.created_ms);
  }
  auto store = open();  // a restart
  ASSERT_TRUE(store);
  auto got = store->get(id);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->summary.title, "Stories");
  EXPECT_EQ(got->summary.model, "stories");
  EXPECT_EQ(got->system_prompt, "Be brief.");
  EXPECT_EQ(got->params["seed"], 7);
  ASSERT_EQ(got->messages.size(), 2u);
  EXPECT_EQ(got->messages[0].role, "user");
  EXPECT_EQ(got->messages[1].content, "there was a cat");
  EXPECT_EQ(got->messages[1].timings["ttft_ms"], 12.5);
  EXPECT_EQ(got->messages[1].usage["completion_tokens"], 3);

  // The export JSON carries what the issue asks: model, parameters, timestamps, timings.
  const json exported = conversation_json(*got);
  EXPECT_EQ(exported["model"], "stories");
  EXPECT_EQ(exported["params"]["temperature"], 0.5);
  EXPECT_GT(exported["created_ms"].get<int64_t>(), 0);
  EXPECT_EQ(exported["messages"][1]["timings"]["predicted_n"], 3);
  EXPECT_EQ(exported["messages"][1]["model"], "stories");
  EXPECT_FALSE(exported["messages"][0].contains("timings"));
}

TEST_F(ConversationStoreTest, UpdateRenamesAndReplacesMessages) {
  auto store = open();
  ASSERT_TRUE(store);
  auto created = store->create(
      {.messages = std::vector<ConversationMessage>{user("a"), reply("b"), user("c"), reply("d")}});
  ASSERT_TRUE(created);
  const std::string id = created->summary.id;
  // Edit-and-resend: the app sends the list up to the edited turn.
  auto updated = store->update(
      id, {.title = "Renamed", .messages = std::vector<ConversationMessage>{user("a2")}});
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->summary.title, "Renamed");
  ASSERT_EQ(updated->messages.size(), 1u);
  EXPECT_EQ(updated->messages[0].content, "a2");
  EXPECT_EQ(updated->summary.message_count, 1);
  // Fields not named stay.
  auto again = store->update(id, {.model = "other"});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->summary.title, "Renamed");
  EXPECT_EQ(again->messages.size(), 1u);

  auto missing = store->update("conv-nope", {.title = "x"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_FALSE(store->append("conv-nope", {user("x")}));
}

TEST_F(ConversationStoreTest, ListIsNewestFirstAndSearchesTitlesAndMessages) {
  auto store = open();
  ASSERT_TRUE(store);
  auto a = store->create({.title = "About cats"});
  auto b = store->create(
      {.title = "Other", .messages = std::vector<ConversationMessage>{user("dogs 50% off")}});
  auto c = store->create({.title = "Third"});
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(store->append(a->summary.id, {user("hello")}));  // a is now the newest

  auto all = store->list("");
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].id, a->summary.id);
  EXPECT_EQ((*all)[0].message_count, 1);

  auto cats = store->list("CATS");
  ASSERT_TRUE(cats);
  ASSERT_EQ(cats->size(), 1u);
  EXPECT_EQ((*cats)[0].id, a->summary.id);
  auto percent = store->list("50%");  // a literal %, not a wildcard
  ASSERT_TRUE(percent);
  ASSERT_EQ(percent->size(), 1u);
  EXPECT_EQ((*percent)[0].id, b->summary.id);
  auto wildcard = store->list("%");
  ASSERT_TRUE(wildcard);
  EXPECT_EQ(wildcard->size(), 1u);
  auto none = store->list("zebra");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(ConversationStoreTest, RemoveDeletesTheMessagesToo) {
  auto store = open();
  ASSERT_TRUE(store);
  auto a = store->create({.messages = std::vector<ConversationMessage>{user("secret words")}});
  ASSERT_TRUE(a);
  auto removed = store->remove(a->summary.id);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  EXPECT_FALSE(*store->remove(a->summary.id));
  EXPECT_EQ(store->get(a->summary.id).error().kind, ErrorKind::kNotFound);
  auto found = store->list("secret");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
}

TEST_F(ConversationStoreTest, AFileThatIsNotADatabaseIsDataLoss) {
  fs::create_directories(dir_ / "home");
  std::ofstream(dir_ / "home" / "conversations.sqlite") << std::string(4096, 'x');
  auto store = ConversationStore::open(dir_ / "home" / "conversations.sqlite");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().kind, ErrorKind::kDataLoss);
}

// A database written by the first schema (no citations column, user_version 0), as a hearth
// from before the migration left it: it opens, keeps its messages, and takes citations.
TEST_F(ConversationStoreTest, AVersionZeroDatabaseIsMigratedInPlace) {
  fs::create_directories(dir_ / "home");
  const fs::path file = dir_ / "home" / "conversations.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  const char* v0 =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE conversations (id TEXT PRIMARY KEY, title TEXT NOT NULL, model TEXT NOT NULL,"
      " system_prompt TEXT NOT NULL, params TEXT NOT NULL, created_ms INTEGER NOT NULL,"
      " updated_ms INTEGER NOT NULL, touch_seq INTEGER NOT NULL DEFAULT 0);"
      "CREATE TABLE messages (conversation_id TEXT NOT NULL REFERENCES conversations(id)"
      " ON DELETE CASCADE, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,"
      " model TEXT NOT NULL, timings TEXT NOT NULL, usage TEXT NOT NULL,"
      " created_ms INTEGER NOT NULL, PRIMARY KEY (conversation_id, seq));"
      "INSERT INTO conversations VALUES ('conv-old', 'Old chat', 'stories', '', '{}', 1, 2, 1);"
      "INSERT INTO messages VALUES ('conv-old', 0, 'user', 'hello', '', 'null', 'null', 1);"
      "INSERT INTO messages VALUES ('conv-old', 1, 'assistant', 'hi [1]', 'stories',"
      " '{\"ttft_ms\":3}', 'null', 2);";
  ASSERT_EQ(sqlite3_exec(db, v0, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);

  {
    auto store = open();
    ASSERT_TRUE(store);
    auto old = store->get("conv-old");
    ASSERT_TRUE(old) << old.error().message;
    ASSERT_EQ(old->messages.size(), 2u);
    EXPECT_EQ(old->messages[1].content, "hi [1]");
    EXPECT_EQ(old->messages[1].timings, json({{"ttft_ms", 3}}));
    EXPECT_TRUE(old->messages[1].citations.is_null());
    EXPECT_FALSE(conversation_json(*old)["messages"][1].contains("citations"));

    auto messages = old->messages;
    messages[1].citations = json::array({{{"n", 1},
                                          {"file_id", "file-1"},
                                          {"filename", "keys.md"},
                                          {"page", 0},
                                          {"char_start", 9},
                                          {"char_end", 20},
                                          {"quote", "Rotate keys"}}});
    ConversationUpdate update;
    update.messages = messages;
    ASSERT_TRUE(store->update("conv-old", update));
  }
  // Reopened (the migration is not run twice), the citations are still there.
  auto store = open();
  ASSERT_TRUE(store);
  auto got = store->get("conv-old");
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->messages[1].citations.is_array());
  EXPECT_EQ(got->messages[1].citations[0]["quote"], "Rotate keys");
  EXPECT_EQ(conversation_json(*got)["messages"][1]["citations"][0]["filename"], "keys.md");
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(version), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(version, 0), 1);
  sqlite3_finalize(version);
  sqlite3_close(db);
}

TEST(ConversationJson, CitationsMustBeAnArrayOfObjects) {
  auto good = parse_messages(json::parse(
      R"([{"role": "assistant", "content": "a [1]", "citations": [{"n": 1, "quote": "q"}]}])"));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ((*good)[0].citations[0]["quote"], "q");
  auto not_array =
      parse_messages(json::parse(R"([{"role": "assistant", "content": "a", "citations": 1}])"));
  ASSERT_FALSE(not_array);
  EXPECT_NE(not_array.error().message.find("messages[0].citations"), std::string::npos);
  auto not_object =
      parse_messages(json::parse(R"([{"role": "assistant", "content": "a", "citations": [2]}])"));
  ASSERT_FALSE(not_object);
  EXPECT_NE(not_object.error().message.find("citations[0]"), std::string::npos);
}

TEST(ConversationJson, ParsesUpdatesAndRefusesWrongTypes) {
  auto u = parse_conversation_update(json::parse(R"({
    "title": "t", "params": {"temperature": 0.2},
    "messages": [{"role": "user", "content": "hi"},
                 {"role": "assistant", "content": "yo", "model": "m",
                  "timings": {"ttft_ms": 1}, "usage": {"completion_tokens": 1}}]})"));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(*u->title, "t");
  EXPECT_FALSE(u->model.has_value());
  ASSERT_EQ(u->messages->size(), 2u);
  EXPECT_EQ((*u->messages)[1].timings["ttft_ms"], 1);

  for (const char* bad : {R"([])", R"({"title": 3})", R"({"params": []})", R"({"messages": {}})",
                          R"({"messages": [{"role": "system",
                          "content": "x"}]})",
                          R"({"messages": [{"role": "user"}]})",
                          R"({"messages": [{"role": "user", "content": "x", "timings": 3}]})"}) {
    auto parsed = parse_conversation_update(json::parse(bad));
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidInput) << bad;
  }
}

}  // namespace
}  // namespace hearth::server
