// Parsers and the chunker: reasons for unusable files, sections, and chunk spans that map back
// to the exact source text.
#include "rag/parse.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rag/chunker.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

// A minimal PDF with one page per text, Helvetica text drawn on each, and a correct xref table.
std::string make_pdf(const std::vector<std::string>& pages) {
  std::vector<std::string> objects;
  const int n = static_cast<int>(pages.size());
  const int font = 3 + 2 * n;
  std::string kids;
  for (int i = 0; i < n; ++i) kids += std::to_string(3 + 2 * i) + " 0 R ";
  objects.push_back("<< /Type /Catalog /Pages 2 0 R >>");
  objects.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
  for (int i = 0; i < n; ++i) {
    objects.push_back(
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Resources << /Font << /F1 " +
        std::to_string(font) + " 0 R >> >> /Contents " + std::to_string(4 + 2 * i) + " 0 R >>");
    const std::string content = "BT /F1 12 Tf 20 100 Td (" + pages[i] + ") Tj ET";
    objects.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content +
                      "\nendstream");
  }
  objects.push_back(
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

TEST(RagParse, MarkdownHeadingsBecomeSectionPaths) {
  auto doc = parse_bytes(
      "intro\n# Guide\ntext\n## Keys\nrotate\n```\n# not a heading\n```\n# Other\nend\n",
      DocType::kMarkdown);
  ASSERT_TRUE(doc) << doc.error().message;
  ASSERT_EQ(doc->sections.size(), 4u);
  EXPECT_EQ(doc->sections[0].heading, "");
  EXPECT_EQ(doc->sections[1].heading, "Guide");
  EXPECT_EQ(doc->sections[2].heading, "Guide > Keys");
  EXPECT_NE(doc->text.substr(doc->sections[2].start, doc->sections[2].end - doc->sections[2].start)
                .find("# not a heading"),
            std::string::npos);
  EXPECT_EQ(doc->sections[3].heading, "Other");
  EXPECT_EQ(doc->sections.front().start, 0);
  EXPECT_EQ(doc->sections.back().end, static_cast<int64_t>(doc->text.size()));
  for (size_t i = 1; i < doc->sections.size(); ++i)
    EXPECT_EQ(doc->sections[i].start, doc->sections[i - 1].end);
}

TEST(RagParse, HtmlDropsScriptsAndKeepsHeadings) {
  auto doc = parse_bytes(
      "<html><head><title>x</title><style>p{}</style></head><body><script>var secret=1;</script>"
      "<h1>Manual</h1><p>Install   it. <b>bold</b> <i>italic</i></p><h2>Keys &amp; "
      "locks</h2><p>Rotate "
      "monthly.</p></body></html>",
      DocType::kHtml);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->text.find("secret"), std::string::npos);
  EXPECT_NE(doc->text.find("Install it."), std::string::npos);
  EXPECT_NE(doc->text.find("bold italic"), std::string::npos) << doc->text;
  EXPECT_NE(doc->text.find("Keys & locks"), std::string::npos);
  ASSERT_EQ(doc->sections.size(), 2u);
  EXPECT_EQ(doc->sections[0].heading, "Manual");
  EXPECT_EQ(doc->sections[1].heading, "Manual > Keys & locks");
  EXPECT_NE(doc->text.substr(doc->sections[1].start).find("Rotate monthly."), std::string::npos);
}

TEST(RagParse, PdfPagesBecomeSections) {
  auto doc =
      parse_bytes(make_pdf({"Rotate the keys monthly", "Backups run nightly"}), DocType::kPdf);
  ASSERT_TRUE(doc) << doc.error().message;
  ASSERT_EQ(doc->sections.size(), 2u);
  EXPECT_EQ(doc->sections[0].page, 1);
  EXPECT_EQ(doc->sections[1].page, 2);
  const auto page2 =
      doc->text.substr(doc->sections[1].start, doc->sections[1].end - doc->sections[1].start);
  EXPECT_NE(page2.find("Backups run nightly"), std::string::npos) << doc->text;
  EXPECT_EQ(page2.find("Rotate"), std::string::npos);
}

TEST(RagParse, UnusablePdfsHaveReasons) {
  std::string pdf = make_pdf({"hello"});
  auto truncated = parse_bytes(pdf.substr(0, 40), DocType::kPdf);
  ASSERT_FALSE(truncated);
  EXPECT_NE(truncated.error().message.find("PDF"), std::string::npos);
  auto not_pdf = parse_bytes("just text", DocType::kPdf);
  ASSERT_FALSE(not_pdf);
  EXPECT_NE(not_pdf.error().message.find("not a PDF"), std::string::npos);
  auto blank = parse_bytes(make_pdf({""}), DocType::kPdf);
  ASSERT_FALSE(blank);
  EXPECT_NE(blank.error().message.find("no extractable text"), std::string::npos);
}

TEST(RagParse, TextChecksNameTheReason) {
  EXPECT_EQ(parse_bytes("", DocType::kText).error().message, "empty file");
  EXPECT_EQ(parse_bytes(" \n\t", DocType::kText).error().message, "empty file (only whitespace)");
  EXPECT_EQ(parse_bytes(std::string("ab\0c", 4), DocType::kCode).error().message,
            "binary file (NUL byte at offset 2)");
  EXPECT_EQ(parse_bytes("caf\xe9!", DocType::kText).error().message, "not valid UTF-8 at byte 3");
  EXPECT_EQ(parse_bytes("caf\xe9!", DocType::kText).error().kind, ErrorKind::kInvalidInput);
  EXPECT_TRUE(parse_bytes("caf\xc3\xa9 \xf0\x9f\x94\x91", DocType::kText));
}

TEST(RagParse, Utf8Validation) {
  EXPECT_EQ(first_invalid_utf8("plain"), -1);
  EXPECT_EQ(first_invalid_utf8("\xc0\xaf"), 0);            // overlong '/'
  EXPECT_EQ(first_invalid_utf8("a\xed\xa0\x80"), 1);       // surrogate
  EXPECT_EQ(first_invalid_utf8("ab\xf4\x90\x80\x80"), 2);  // past U+10FFFF
  EXPECT_EQ(first_invalid_utf8("abc\xe2\x82"), 3);         // cut short
}

TEST(RagParse, HugeFileIsRefusedBeforeReading) {
  const fs::path path =
      fs::temp_directory_path() / ("hearth-rag-huge-" + std::to_string(::getpid()) + ".txt");
  { std::ofstream(path) << "x"; }
  fs::resize_file(path, 200ull * 1024 * 1024);  // sparse: costs no disk
  auto doc = parse_file(path);
  fs::remove(path);
  ASSERT_FALSE(doc);
  EXPECT_EQ(doc.error().message, "file is 200.0 MB, over the 64.0 MB limit");
}

TEST(RagParse, TypesByExtension) {
  EXPECT_EQ(detect_type("a/b.MD"), DocType::kMarkdown);
  EXPECT_EQ(detect_type("x.htm"), DocType::kHtml);
  EXPECT_EQ(detect_type("x.pdf"), DocType::kPdf);
  EXPECT_EQ(detect_type("x.rs"), DocType::kCode);
  EXPECT_EQ(detect_type("notes"), DocType::kText);
}

std::string words(int n, const std::string& stem) {
  std::string s;
  for (int i = 0; i < n; ++i) s += stem + std::to_string(i) + (i % 17 == 16 ? "\n\n" : " ");
  return s;
}

void expect_chunks_cover_words(const ParsedDocument& doc, const std::vector<Chunk>& chunks) {
  // Every word of the text lies inside some chunk, and each span is trimmed text.
  for (const Chunk& c : chunks) {
    ASSERT_LT(c.start, c.end);
    EXPECT_FALSE(std::isspace(static_cast<unsigned char>(doc.text[c.start])));
    EXPECT_FALSE(std::isspace(static_cast<unsigned char>(doc.text[c.end - 1])));
  }
  size_t i = 0;
  while (i < doc.text.size()) {
    while (i < doc.text.size() && std::isspace(static_cast<unsigned char>(doc.text[i]))) ++i;
    if (i >= doc.text.size()) break;
    size_t j = i;
    while (j < doc.text.size() && !std::isspace(static_cast<unsigned char>(doc.text[j]))) ++j;
    bool covered = false;
    for (const Chunk& c : chunks)
      covered = covered || (c.start <= static_cast<int64_t>(i) && static_cast<int64_t>(j) <= c.end);
    EXPECT_TRUE(covered) << "word at " << i << " '" << doc.text.substr(i, j - i)
                         << "' is in no chunk";
    i = j;
  }
}

TEST(RagChunker, ChunksStayWithinBudgetAndCoverTheText) {
  auto doc = parse_bytes(words(1000, "w"), DocType::kText);
  ASSERT_TRUE(doc);
  const auto chunks = chunk_document(*doc, ChunkOptions{64, 8}, approximate_tokens);
  ASSERT_GT(chunks.size(), 10u);
  for (const Chunk& c : chunks) EXPECT_LE(c.n_tokens, 64);
  expect_chunks_cover_words(*doc, chunks);
  // Neighbours overlap (overlap 8 tokens) and move forward.
  for (size_t i = 1; i < chunks.size(); ++i) {
    EXPECT_GT(chunks[i].start, chunks[i - 1].start);
    EXPECT_LE(chunks[i].start, chunks[i - 1].end);
  }
}

TEST(RagChunker, CountsWithTheGivenTokenizer) {
  auto doc = parse_bytes(words(300, "alpha"), DocType::kText);
  ASSERT_TRUE(doc);
  // A tokenizer that makes every word 3 tokens: 20-token chunks hold 6 words.
  const auto chunks = chunk_document(*doc, ChunkOptions{20, 0}, [](std::string_view) { return 3; });
  for (const Chunk& c : chunks) {
    EXPECT_LE(c.n_tokens, 20);
    EXPECT_EQ(c.n_tokens % 3, 0);
  }
  expect_chunks_cover_words(*doc, chunks);
}

TEST(RagChunker, NeverCrossesSectionsAndKeepsPages) {
  auto doc = parse_bytes("# A\n" + words(50, "a") + "\n# B\n" + words(50, "b"), DocType::kMarkdown);
  ASSERT_TRUE(doc);
  const auto chunks = chunk_document(*doc, ChunkOptions{1000, 0}, approximate_tokens);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].heading, "A");
  EXPECT_EQ(chunks[1].heading, "B");
  EXPECT_EQ(doc->text.substr(chunks[1].start, 3), "# B");
  auto pdf = parse_bytes(make_pdf({"one two", "three four"}), DocType::kPdf);
  ASSERT_TRUE(pdf) << pdf.error().message;
  const auto pages = chunk_document(*pdf, ChunkOptions{1000, 0}, approximate_tokens);
  ASSERT_EQ(pages.size(), 2u);
  EXPECT_EQ(pages[0].page, 1);
  EXPECT_EQ(pages[1].page, 2);
}

TEST(RagChunker, SplitsTextWithoutSpacesOnCharacterBoundaries) {
  std::string blob;
  for (int i = 0; i < 2000; ++i) blob += "\xc3\xa9";  // 'é' x 2000, no spaces
  auto doc = parse_bytes(blob, DocType::kText);
  ASSERT_TRUE(doc);
  const auto chunks = chunk_document(*doc, ChunkOptions{32, 4}, approximate_tokens);
  ASSERT_GT(chunks.size(), 5u);
  for (const Chunk& c : chunks) {
    EXPECT_LE(c.n_tokens, 32);
    EXPECT_EQ(first_invalid_utf8(doc->text.substr(c.start, c.end - c.start)), -1);
  }
}

TEST(RagChunker, PrefersParagraphBreaks) {
  // Two paragraphs of ~40 tokens each: a 60-token budget ends the first chunk at the blank line.
  std::string text = words(16, "p") + "end.\n\n" + words(16, "q");
  auto doc = parse_bytes(text, DocType::kText);
  ASSERT_TRUE(doc);
  const auto chunks = chunk_document(*doc, ChunkOptions{24, 0}, [](std::string_view) { return 1; });
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(doc->text.substr(chunks[0].end - 4, 4), "end.");
}

// Damaged inputs of every type (flipped bytes, truncations of valid files) parse or fail with
// a reason; none may crash (the ASan build runs this too).
TEST(RagParse, DamagedInputsNeverCrash) {
  const std::string pdf = make_pdf({"Rotate the keys monthly", "Backups run nightly"});
  const std::string html =
      "<html><body><h1>A</h1><p>x <b>y</b></p><h2>B</h2><ul><li>z</ul></body></html>";
  const std::string md = "# A\n\ntext\n\n## B\n```\ncode\n```\nmore \xc3\xa9\n";
  uint64_t state = 42;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  int parsed = 0, refused = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string& base = i % 3 == 0 ? pdf : i % 3 == 1 ? html : md;
    const DocType type = i % 3 == 0   ? DocType::kPdf
                         : i % 3 == 1 ? DocType::kHtml
                                      : DocType::kMarkdown;
    std::string bytes = base.substr(0, next() % (base.size() + 1));
    for (int f = next() % 4; f > 0 && !bytes.empty(); --f)
      bytes[next() % bytes.size()] = static_cast<char>(next());
    auto doc = parse_bytes(bytes, type);
    if (!doc) {
      EXPECT_FALSE(doc.error().message.empty());
      ++refused;
      continue;
    }
    ++parsed;
    for (const Section& sec : doc->sections) {
      EXPECT_LE(0, sec.start);
      EXPECT_LE(sec.start, sec.end);
      EXPECT_LE(sec.end, static_cast<int64_t>(doc->text.size()));
    }
    for (const Chunk& c : chunk_document(*doc, ChunkOptions{16, 4}, approximate_tokens))
      EXPECT_LE(c.end, static_cast<int64_t>(doc->text.size()));
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
}  // namespace hearth::rag
