// `hearth rag` through the binary: the report of an add (golden), idempotent re-adds, query
// output in text and JSON, list, remove, and bad input (collection names, options, questions).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/fixtures.h"
#include "support/process.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

class RagCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hearth-rag-cli-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "home");
    fs::create_directories(root_ / "docs" / ".git");
    put("docs/keys.md",
        "# Keys\n\n## Rotation\n\nTo rotate the keys, run keyctl rotate --all.\n\n## "
        "Backup\n\nBackups live in the archive.\n");
    put("docs/manual.html",
        "<html><body><script>x()</script><h1>Manual</h1><p>Upgrading needs a "
        "reboot.</p></body></html>");
    put("docs/main.cpp", "int main() {\n  return 0;\n}\n");
    put("docs/empty.txt", "");
    put("docs/latin1.txt", "caf\xe9");
    put("docs/blob.bin", std::string("\x7f"
                                     "ELF\0\0",
                                     6));
    put("docs/broken.pdf", "%PDF-1.4\n1 0 obj\n<<");
    put("docs/.git/config", "[core]");
  }
  void TearDown() override { fs::remove_all(root_); }

  void put(const std::string& rel, const std::string& bytes) {
    std::ofstream(root_ / rel, std::ios::binary) << bytes;
  }
  testing::CommandResult hearth(const std::string& args) const {
    return testing::run_shell("cd " + testing::shell_quote(root_.string()) + " && " +
                              testing::env_prefix({{"HEARTH_HOME", (root_ / "home").string()}}) +
                              testing::shell_quote(testing::hearth_binary()) + " " + args);
  }
  // Output with the temporary directory replaced by ROOT, so it can be compared as a golden.
  std::string normalized(std::string out) const {
    const std::string dir = fs::weakly_canonical(root_).string();
    for (size_t at; (at = out.find(dir)) != std::string::npos;) out.replace(at, dir.size(), "ROOT");
    return out;
  }

  fs::path root_;
};

TEST_F(RagCli, AddReportsEveryFileAndIsIdempotent) {
  auto r = hearth("rag add docs -c notes --embed none");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(normalized(r.output),
            "skipped   ROOT/docs/blob.bin: binary file (NUL byte at offset 4)\n"
            "skipped   ROOT/docs/broken.pdf: corrupt or encrypted PDF (poppler cannot open it)\n"
            "skipped   ROOT/docs/empty.txt: empty file\n"
            "added     ROOT/docs/keys.md (3 chunks)\n"
            "skipped   ROOT/docs/latin1.txt: not valid UTF-8 at byte 3\n"
            "added     ROOT/docs/main.cpp (1 chunks)\n"
            "added     ROOT/docs/manual.html (1 chunks)\n"
            "collection notes: 3 added, 0 updated, 0 unchanged, 4 skipped, 0 removed, 0 failed; 5 "
            "new chunks\n"
            "note: --embed none: BM25-only, chunked by approximate token count (about 4 bytes a "
            "token)\n");
  auto again = hearth("rag add docs -c notes");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 added, 0 updated, 7 unchanged"), std::string::npos)
      << again.output;

  auto list = hearth("rag list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.output.find("notes                     3        4        5 none"),
            std::string::npos)
      << list.output;
}

TEST_F(RagCli, QueryTextAndJson) {
  ASSERT_EQ(hearth("rag add docs -c notes --embed none").exit_code, 0);
  auto text = hearth("rag query -c notes 'how do I rotate the keys?' --k 1");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_EQ(normalized(text.output),
            "[1] ROOT/docs/keys.md  \xC2\xA7 Keys > Rotation  bytes 8-65  score 0.0164\n"
            "    ## Rotation To rotate the keys, run keyctl rotate --all.\n");
  auto js = hearth("rag query -c notes 'reboot \"upgrading' --json -k 3");
  ASSERT_EQ(js.exit_code, 0) << js.output;
  auto doc = nlohmann::json::parse(js.output);
  EXPECT_EQ(doc["mode"], "bm25");
  ASSERT_EQ(doc["results"].size(), 1u);
  const auto& hit = doc["results"][0];
  EXPECT_EQ(hit["quote"], "Manual\nUpgrading needs a reboot.");
  EXPECT_EQ(hit["heading"], "Manual");
  EXPECT_EQ(hit["bm25_rank"], 1);
  EXPECT_TRUE(hit["vector_rank"].is_null());
}

TEST_F(RagCli, RemoveAndSync) {
  ASSERT_EQ(hearth("rag add docs -c notes --embed none").exit_code, 0);
  fs::remove(root_ / "docs" / "main.cpp");
  put("docs/keys.md", "# Keys\n\nVault rotates keys weekly.\n");
  auto sync = hearth("rag sync -c notes");
  EXPECT_EQ(sync.exit_code, 0) << sync.output;
  EXPECT_NE(normalized(sync.output).find("removed   ROOT/docs/main.cpp"), std::string::npos)
      << sync.output;
  EXPECT_NE(normalized(sync.output).find("updated   ROOT/docs/keys.md (1 chunks)"),
            std::string::npos)
      << sync.output;
  auto rm = hearth("rag remove -c notes docs/keys.md");
  EXPECT_EQ(rm.exit_code, 0) << rm.output;
  EXPECT_NE(hearth("rag query -c notes vault").output.find("no results"), std::string::npos);
  EXPECT_EQ(hearth("rag remove -c notes").exit_code, 0);
  EXPECT_NE(hearth("rag list").output.find("no collections"), std::string::npos);
}

TEST_F(RagCli, BadInputIsAClearError) {
  auto name = hearth("rag add docs -c ../escape --embed none");
  EXPECT_EQ(name.exit_code, 2);
  EXPECT_NE(name.output.find("collection name '../escape' must not start with '.'"),
            std::string::npos)
      << name.output;
  EXPECT_FALSE(fs::exists(root_ / "escape.sqlite"));
  auto overlap = hearth("rag add docs -c notes --overlap 500");
  EXPECT_EQ(overlap.exit_code, 2);
  EXPECT_NE(overlap.output.find("--overlap"), std::string::npos) << overlap.output;
  auto missing = hearth("rag query -c nothing keys");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no collection 'nothing'"), std::string::npos) << missing.output;
  ASSERT_EQ(hearth("rag add docs -c notes --embed none").exit_code, 0);
  auto k = hearth("rag query -c notes keys --k 0");
  EXPECT_EQ(k.exit_code, 2);
  EXPECT_NE(k.output.find("k must be between 1 and 1000"), std::string::npos) << k.output;
  auto nofile = hearth("rag add docs/nope.txt -c notes");
  EXPECT_EQ(nofile.exit_code, 1);
  EXPECT_NE(nofile.output.find("no such file or directory"), std::string::npos) << nofile.output;
  // A 200 MB file (sparse: no disk used) is skipped before it is read, with the reason.
  { std::ofstream(root_ / "huge.log") << "x"; }
  fs::resize_file(root_ / "huge.log", 200ull * 1024 * 1024);
  auto huge = hearth("rag add huge.log -c notes");
  EXPECT_EQ(huge.exit_code, 0) << huge.output;
  EXPECT_NE(normalized(huge.output)
                .find("skipped   ROOT/huge.log: file is 200.0 MB, over the 64.0 MB limit"),
            std::string::npos)
      << huge.output;
  auto model = hearth("rag query -c notes keys --embed /nonexistent/model.gguf");
  EXPECT_EQ(model.exit_code, 1);
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// A process killed (SIGKILL) in the middle of an add leaves a consistent collection: every
// document row has exactly the chunks it claims, and adding again completes the rest.
TEST_F(RagCli, KilledIngestLeavesAConsistentCollectionAndResumes) {
  fs::create_directories(root_ / "many");
  std::string body;
  for (int w = 0; w < 300; ++w) body += "word" + std::to_string(w) + " ";
  for (int i = 0; i < 400; ++i)
    put("many/f" + std::to_string(i) + ".txt", "file " + std::to_string(i) + " " + body);
  const fs::path db = root_ / "home" / "rag" / "big.sqlite";
  // Killed once the collection exists and has had a moment to take documents, not after a
  // fixed time: a slow build (ASan on a busy machine) may not have opened it yet at 0.4 s.
  const auto killed = testing::run_shell(
      "cd " + testing::shell_quote(root_.string()) + " && { " +
      testing::env_prefix({{"HEARTH_HOME", (root_ / "home").string()}}) +
      testing::shell_quote(testing::hearth_binary()) +
      " rag add many -c big --embed none --chunk-tokens 16 --overlap 2 & pid=$!; "
      "for i in $(seq 1 600); do [ -s " +
      testing::shell_quote(db.string()) +
      " ] && break; sleep 0.05; done; sleep 0.2; kill -KILL $pid; wait $pid; }");
  ASSERT_TRUE(fs::exists(db)) << killed.output;
  sqlite3* conn = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  auto scalar = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(conn, sql, -1, &st, nullptr), SQLITE_OK) << sql;
    int64_t v = -1;
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
  };
  EXPECT_EQ(scalar("SELECT count(*) FROM documents d WHERE d.chunk_count != "
                   "(SELECT count(*) FROM chunks c WHERE c.document_id = d.id)"),
            0);
  EXPECT_EQ(scalar("SELECT count(*) FROM chunks"), scalar("SELECT count(*) FROM chunks_fts"));
  const int64_t before = scalar("SELECT count(*) FROM documents");
  sqlite3_close(conn);
  auto resumed = hearth("rag add many -c big --chunk-tokens 16 --overlap 2");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::string expect =
      std::to_string(400 - before) + " added, 0 updated, " + std::to_string(before) + " unchanged";
  EXPECT_NE(resumed.output.find(expect), std::string::npos)
      << "killed after " << before << " files\n"
      << resumed.output;
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// `rag ask` on the one fixture with real weights (a tiny story model: the answer is not
// meaningful, the plumbing is): sources listed, lower-ranked ones dropped to fit a small
// context, and a question too long for the context refused with the token counts.
TEST_F(RagCli, AskFitsSourcesIntoTheContext) {
  ASSERT_EQ(hearth("rag add docs -c notes --embed none").exit_code, 0);
  const std::string model =
      testing::shell_quote((testing::fixtures_dir() / "models" / "stories260K.gguf").string());
  auto r = hearth("rag ask -c notes -m " + model + " 'rotate keys backup' --max-tokens 8 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto doc = nlohmann::json::parse(r.output);
  EXPECT_EQ(doc["completion_tokens"], 8);
  EXPECT_GE(doc["sources"].size(), 2u);
  EXPECT_TRUE(doc["dropped_sources"].empty());
  const int full_prompt = doc["prompt_tokens"];
  // A context a little smaller than that prompt plus the answer: the last source is dropped.
  auto tight =
      hearth("rag ask -c notes -m " + model + " 'rotate keys backup' --max-tokens 8 --json --ctx " +
             std::to_string(full_prompt + 8 - 1));
  ASSERT_EQ(tight.exit_code, 0) << tight.output;
  auto t = nlohmann::json::parse(tight.output);
  EXPECT_EQ(t["dropped_sources"].size(), 1u);
  EXPECT_EQ(t["sources"].size(), doc["sources"].size() - 1);
  EXPECT_LE(t["prompt_tokens"].get<int>() + 8, full_prompt + 8 - 1);
  auto text = hearth("rag ask -c notes -m " + model + " 'rotate keys' --max-tokens 4");
  EXPECT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(normalized(text.output).find("Sources:\n[1]"), std::string::npos) << text.output;
  std::string long_question;
  for (int i = 0; i < 300; ++i) long_question += "keys ";
  auto too_long =
      hearth("rag ask -c notes -m " + model + " '" + long_question + "' --ctx 128 --max-tokens 8");
  EXPECT_EQ(too_long.exit_code, 2) << too_long.output;
  EXPECT_NE(too_long.output.find("the question needs a prompt of"), std::string::npos)
      << too_long.output;
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

// Two processes adding to one new collection while a third queries it: SQLite serializes the
// writers (WAL, busy timeout), nobody sees "database is locked", every file lands once.
TEST_F(RagCli, ConcurrentProcessesShareACollection) {
  for (const char* dir : {"a", "b"}) {
    fs::create_directories(root_ / dir);
    for (int i = 0; i < 40; ++i)
      put(std::string(dir) + "/f" + std::to_string(i) + ".txt",
          std::string("file ") + dir + std::to_string(i) + " about keys and locks");
  }
  const std::string bin = testing::shell_quote(testing::hearth_binary());
  const std::string env = testing::env_prefix({{"HEARTH_HOME", (root_ / "home").string()}});
  // Braces: the cd must hold for all three background jobs.
  auto r = testing::run_shell(
      "cd " + testing::shell_quote(root_.string()) + " && { (" + env + bin +
      " rag add a -c shared --embed none > a.log 2>&1; echo $? > a.rc) & (" + env + bin +
      " rag add b -c shared --embed none > b.log 2>&1; echo $? > b.rc) & (for i in 1 2 3 4 "
      "5 6 7 8; do " +
      env + bin + " rag query -c shared keys >> q.log 2>&1; done) ; wait; }");
  EXPECT_EQ(testing::read_file(root_ / "a.rc"), "0\n") << testing::read_file(root_ / "a.log");
  EXPECT_EQ(testing::read_file(root_ / "b.rc"), "0\n") << testing::read_file(root_ / "b.log");
  const std::string all = testing::read_file(root_ / "a.log") +
                          testing::read_file(root_ / "b.log") + testing::read_file(root_ / "q.log");
  EXPECT_EQ(all.find("locked"), std::string::npos) << all;
  EXPECT_EQ(all.find("busy"), std::string::npos) << all;
  auto list = hearth("rag list");
  EXPECT_NE(list.output.find("shared                   80        0       80"), std::string::npos)
      << list.output;
}

}  // namespace
}  // namespace hearth
