// Vector stores over collections: the id mapping, attach/search/detach with attributes and
// filters, a corrupt PDF as a failed file, and a CLI-made collection seen as a store.
#include "rag/vector_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "engine/gguf/gguf.h"
#include "engine/models/synthetic.h"
#include "support/fixtures.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

TEST(RagVectorStoreIds, MapToCollectionsAndBack) {
  EXPECT_EQ(vector_store_id("docs"), "vs_docs");
  EXPECT_EQ(*collection_of_store_id("vs_docs"), "docs");
  EXPECT_EQ(*collection_of_store_id("vs_My-docs.v2"), "My-docs.v2");
  for (const char* bad :
       {"docs", "vs_", "vs_../x", "vs_a/b", "vs_.hidden", "file-abc", "VS_docs", "vs_a b"}) {
    auto c = collection_of_store_id(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().kind, ErrorKind::kNotFound) << bad;
  }
}

TEST(RagVectorStoreIds, NamesForNewStores) {
  std::set<std::string> taken = {"docs", "My-docs"};
  auto is_taken = [&](const std::string& n) { return taken.count(n) > 0; };
  EXPECT_EQ(collection_name_for("notes", is_taken), "notes");
  EXPECT_EQ(collection_name_for("Support FAQ", is_taken), "Support-FAQ");
  const std::string again = collection_name_for("docs", is_taken);
  EXPECT_TRUE(again.starts_with("docs-")) << again;
  EXPECT_EQ(again.size(), 13u);
  const std::string spaced = collection_name_for("My docs", is_taken);  // slug taken too
  EXPECT_TRUE(spaced.starts_with("My-docs-")) << spaced;
  for (const char* name : {"", "../../etc", "..", "日本語", "/"}) {
    const std::string n = collection_name_for(name, is_taken);
    EXPECT_TRUE(validate_collection_name(n)) << name << " -> " << n;
  }
  EXPECT_TRUE(collection_name_for("", is_taken).starts_with("store-"));
  EXPECT_TRUE(collection_name_for("../../etc", is_taken).starts_with("etc"));
}

class RagVectorStores : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = fs::temp_directory_path() /
            ("hearth-vs-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(home_);
    fs::create_directories(home_);
    const char* old = std::getenv("HEARTH_HOME");
    if (old) old_home_ = old;
    ::setenv("HEARTH_HOME", home_.c_str(), 1);
    auto stores = VectorStores::open({.files_dir = home_ / "files"});
    ASSERT_TRUE(stores) << stores.error().message;
    stores_ = std::move(*stores);
  }
  void TearDown() override {
    stores_.reset();
    if (old_home_)
      ::setenv("HEARTH_HOME", old_home_->c_str(), 1);
    else
      ::unsetenv("HEARTH_HOME");
    fs::remove_all(home_);
  }
  std::string upload(const std::string& name, const std::string& text) {
    auto r = stores_->files().put(text, name, "assistants");
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->id : "";
  }

  fs::path home_;
  std::optional<std::string> old_home_;
  std::unique_ptr<VectorStores> stores_;
};

TEST_F(RagVectorStores, AttachSearchFilterDetach) {
  const std::string keys = upload("keys.md", "# Keys\n\nRotate the signing keys monthly.\n");
  const std::string cats = upload("cats.txt", "Cats sleep all day and rotate rarely.\n");
  auto store = stores_->create("Ops docs", json{{"team", "ops"}}, {keys});
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->id, "vs_Ops-docs");
  EXPECT_EQ(store->name, "Ops docs");
  EXPECT_EQ(store->completed, 1);
  EXPECT_EQ(store->metadata["team"], "ops");
  auto attached = stores_->attach(store->id, cats, json{{"animal", true}, {"year", 2020}});
  ASSERT_TRUE(attached) << attached.error().message;
  EXPECT_EQ(attached->status, "completed");
  EXPECT_EQ(attached->filename, "cats.txt");

  auto hits = stores_->search(store->id, "rotate", 10, std::nullopt);
  ASSERT_TRUE(hits) << hits.error().message;
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_DOUBLE_EQ((*hits)[0].score, 1.0);
  EXPECT_GT((*hits)[0].score, (*hits)[1].score);

  auto only_animals = parse_filter({{"type", "eq"}, {"key", "animal"}, {"value", true}});
  ASSERT_TRUE(only_animals);
  hits = stores_->search(store->id, "rotate", 10, *only_animals);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].file_id, cats);
  EXPECT_EQ((*hits)[0].filename, "cats.txt");
  EXPECT_EQ((*hits)[0].attributes["year"], 2020);

  auto files = stores_->files_of(store->id);
  ASSERT_TRUE(files);
  EXPECT_EQ(files->size(), 2u);
  ASSERT_TRUE(stores_->detach(store->id, cats));
  EXPECT_EQ(stores_->files_of(store->id)->size(), 1u);
  EXPECT_EQ(stores_->detach(store->id, cats).error().kind, ErrorKind::kNotFound);
  hits = stores_->search(store->id, "cats", 10, std::nullopt);
  ASSERT_TRUE(hits);
  EXPECT_TRUE(hits->empty());

  // Attaching the same file twice is idempotent.
  ASSERT_TRUE(stores_->attach(store->id, keys, nullptr));
  EXPECT_EQ(stores_->get(store->id)->completed, 1);

  ASSERT_TRUE(stores_->remove(store->id));
  EXPECT_EQ(stores_->get(store->id).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(stores_->search(store->id, "x", 1, std::nullopt).error().kind, ErrorKind::kNotFound);
}

TEST_F(RagVectorStores, CorruptPdfIsAFailedFile) {
  const std::string pdf = upload("broken.pdf", "%PDF-1.7\nthis is not really a pdf\n%%EOF\n");
  auto store = stores_->create("pdfs", nullptr, {});
  ASSERT_TRUE(store);
  auto f = stores_->attach(store->id, pdf, nullptr);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->status, "failed");
  EXPECT_EQ(f->error_code, "invalid_file");
  EXPECT_FALSE(f->error_message.empty());
  EXPECT_EQ(stores_->get(store->id)->failed, 1);
  auto listed = stores_->file_of(store->id, pdf);
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, "failed");
}

TEST_F(RagVectorStores, UnknownIdsAreNotFound) {
  EXPECT_EQ(stores_->create("x", nullptr, {"file-000000000000000000000000"}).error().kind,
            ErrorKind::kNotFound);
  EXPECT_TRUE(list_collections().empty());  // nothing was created
  auto store = stores_->create("x", nullptr, {});
  ASSERT_TRUE(store);
  EXPECT_EQ(stores_->attach(store->id, "file-000000000000000000000000", nullptr).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(stores_->attach("vs_nope", upload("a.txt", "a"), nullptr).error().kind,
            ErrorKind::kNotFound);
  EXPECT_EQ(
      stores_->attach(store->id, upload("b.txt", "b"), json{{"k", json::array()}}).error().kind,
      ErrorKind::kInvalidInput);
}

TEST_F(RagVectorStores, CliCollectionsAreStores) {
  fs::create_directories(home_ / "docs");
  std::ofstream(home_ / "docs" / "guide.md") << "# Guide\n\nThe daemon restarts nightly.\n";
  {
    auto c = Collection::open("cli-made", /*create=*/true);
    ASSERT_TRUE(c);
    auto out = (*c)->add_paths({home_ / "docs"}, nullptr, {});
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].kind, FileOutcome::kAdded) << out[0].reason;
  }
  auto all = stores_->list();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].id, "vs_cli-made");
  EXPECT_EQ((*all)[0].name, "cli-made");
  EXPECT_EQ((*all)[0].completed, 1);
  EXPECT_GT((*all)[0].created_at, 0);
  auto hits = stores_->search("vs_cli-made", "daemon", 5, std::nullopt);
  ASSERT_TRUE(hits);
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].filename, "guide.md");
  EXPECT_TRUE((*hits)[0].file_id.starts_with("local:")) << (*hits)[0].file_id;
}

// A random-weight BERT encoder with a real WordPiece vocabulary: the embedding path, not quality.
fs::path synthetic_encoder(const fs::path& dir) {
  const auto* shape = models::find_synthetic_shape("all-minilm-l6-v2");
  EXPECT_NE(shape, nullptr);
  auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
  EXPECT_TRUE(vocab) << vocab.error().message;
  const fs::path path = dir / "bge-test.gguf";
  auto s = models::write_synthetic_model(*shape, "q8_0", *vocab, path, 7);
  EXPECT_TRUE(s) << s.error().message;
  return path;
}

TEST_F(RagVectorStores, NewStoresGetTheConfiguredEmbedder) {
  const fs::path encoder = synthetic_encoder(home_);
  auto with_embedder = VectorStores::open(
      {.files_dir = home_ / "files", .embedder_name = "bge-test", .embedder_path = encoder});
  ASSERT_TRUE(with_embedder) << with_embedder.error().message;
  VectorStores& stores = **with_embedder;
  auto keys =
      stores.files().put("# Keys\n\nRotate the signing keys monthly.\n", "keys.md", "assistants");
  auto cats = stores.files().put("Cats sleep all day long.\n", "cats.md", "assistants");
  ASSERT_TRUE(keys && cats);
  auto store = stores.create("hybrid", nullptr, {keys->id, cats->id});
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->completed, 2);
  {
    auto c = Collection::open("hybrid", false);
    ASSERT_TRUE(c);
    auto id = (*c)->embedder_identity();
    ASSERT_TRUE(id && *id);
    EXPECT_EQ((*id)->model, "bge-test");
    EXPECT_EQ((*id)->dimension, 384);
  }
  auto hits = stores.search(store->id, "rotate the signing keys", 5, std::nullopt);
  ASSERT_TRUE(hits) << hits.error().message;
  ASSERT_EQ(hits->size(), 2u);  // the vector list ranks every chunk, BM25 only one
  bool any_vector = false;
  for (const auto& h : *hits) {
    any_vector = any_vector || h.hit.vector_rank.has_value();
    EXPECT_GT(h.score, 0);
    EXPECT_LE(h.score, 1.0);
  }
  EXPECT_TRUE(any_vector);
  EXPECT_EQ((*hits)[0].filename, "keys.md");
  // Two lists: a chunk first in only one of them scores about one half.
  EXPECT_LT((*hits)[1].score, 0.6);

  // A collection the CLI made BM25-only stays BM25-only: the configured embedder is for new
  // stores, and a collection never mixes embedders.
  {
    auto c = Collection::open("plain", true);
    ASSERT_TRUE(c);
    ASSERT_TRUE((*c)->bind_embedder(nullptr));
  }
  auto f = stores.attach("vs_plain", keys->id, nullptr);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->status, "completed") << f->error_message;
  auto plain = stores.search("vs_plain", "rotate", 5, std::nullopt);
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->size(), 1u);
  EXPECT_FALSE((*plain)[0].hit.vector_rank.has_value());
  EXPECT_DOUBLE_EQ((*plain)[0].score, 1.0);
}

}  // namespace
}  // namespace hearth::rag
