// Uploaded files: ids, sanitized names that never reach a path, atomic writes (a failure
// before the rename leaves nothing behind), listing and removal.
#include "rag/file_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

class RagFileStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("hearth-files-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    dir_ = root_ / "home" / "files";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::vector<std::string> entries() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(root_))
      if (e.is_regular_file()) out.push_back(fs::relative(e.path(), root_).string());
    std::sort(out.begin(), out.end());
    return out;
  }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  fs::path root_, dir_;
};

TEST_F(RagFileStore, PutGetListRemove) {
  auto store = FileStore::open(dir_);
  ASSERT_TRUE(store) << store.error().message;
  auto a = (*store)->put("hello", "Notes.MD", "assistants");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(valid_file_id(a->id)) << a->id;
  EXPECT_EQ(a->filename, "Notes.MD");
  EXPECT_EQ(a->bytes, 5);
  EXPECT_EQ(a->path, dir_ / (a->id + ".md"));
  EXPECT_EQ(read(a->path), "hello");
  auto b = (*store)->put(std::string("\0bin\0", 5), "data", "user_data");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->path, dir_ / b->id);  // no extension to keep
  EXPECT_NE(a->id, b->id);

  auto got = (*store)->get(a->id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->filename, "Notes.MD");
  EXPECT_EQ(got->purpose, "assistants");
  EXPECT_EQ((*store)->id_of_path(a->path), a->id);
  EXPECT_EQ((*store)->id_of_path(root_ / "elsewhere" / (a->id + ".md")), std::nullopt);

  auto all = (*store)->list();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);

  ASSERT_TRUE((*store)->remove(a->id));
  EXPECT_FALSE(fs::exists(a->path));
  EXPECT_EQ((*store)->get(a->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ((*store)->remove(a->id).error().kind, ErrorKind::kNotFound);
}

TEST_F(RagFileStore, HostileNamesStayInsideTheFolder) {
  auto store = FileStore::open(dir_);
  ASSERT_TRUE(store);
  for (const char* name : {"../../escape.txt", "/etc/passwd", "..", "..\\..\\x.md", "a/../../b.md",
                           "evil.\x2e/x", "x.md/../../../y"}) {
    auto r = (*store)->put("x", name, "assistants");
    ASSERT_TRUE(r) << name;
    EXPECT_EQ(r->path.parent_path(), dir_) << name;
    EXPECT_EQ(r->filename.find('/'), std::string::npos) << name;
    EXPECT_NE(r->filename, "..") << name;
  }
  for (const auto& e : entries()) EXPECT_TRUE(e.starts_with("home/files/")) << e;
}

TEST_F(RagFileStore, MalformedIdsAreNotFoundWithoutTouchingTheDisk) {
  auto store = FileStore::open(dir_);
  ASSERT_TRUE(store);
  for (const char* id : {"", "file-", "../files.sqlite", "file-../../../../etc/passwd",
                         "file-ABCDEFABCDEFABCDEFABCDEF", "file-0123456789abcdef0123456"}) {
    auto r = (*store)->get(id);
    ASSERT_FALSE(r) << id;
    EXPECT_EQ(r.error().kind, ErrorKind::kNotFound) << id;
  }
}

TEST_F(RagFileStore, AFailedWriteLeavesNothing) {
  auto store = FileStore::open(dir_);
  ASSERT_TRUE(store);
  PutOptions options;
  bool temp_seen = false;
  options.before_rename = [&]() -> Status {
    // The bytes are in a temporary file beside the final one, not yet under a file id.
    for (const auto& e : fs::directory_iterator(dir_))
      temp_seen = temp_seen || e.path().filename().string().starts_with(".tmp-");
    return fail(ErrorKind::kResourceExhausted, "disk full (simulated)");
  };
  auto r = (*store)->put("payload", "a.txt", "assistants", options);
  ASSERT_FALSE(r);
  EXPECT_TRUE(temp_seen);
  EXPECT_EQ(r.error().kind, ErrorKind::kResourceExhausted);
  EXPECT_TRUE((*store)->list()->empty());
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_TRUE(e.path().filename().string().starts_with("files.sqlite")) << e.path();
}

TEST_F(RagFileStore, OpenRemovesTempFilesACrashLeft) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / ".tmp-file-0123456789abcdef01234567") << "partial";
  auto store = FileStore::open(dir_);
  ASSERT_TRUE(store);
  EXPECT_FALSE(fs::exists(dir_ / ".tmp-file-0123456789abcdef01234567"));
}

TEST(RagFileStoreNames, StoredExtension) {
  EXPECT_EQ(stored_extension("a.MD"), ".md");
  EXPECT_EQ(stored_extension("archive.tar.gz"), ".gz");
  EXPECT_EQ(stored_extension("noext"), "");
  EXPECT_EQ(stored_extension(".hidden"), "");
  EXPECT_EQ(stored_extension("x.p/df"), "");
  EXPECT_EQ(stored_extension("x.verylongextension"), "");
  EXPECT_EQ(stored_extension("x."), "");
}

}  // namespace
}  // namespace hearth::rag
