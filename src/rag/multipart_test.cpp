// The multipart/form-data reader on well-formed uploads and on hostile ones: every malformed
// body is an Error, never a crash or a read past the body (the ASan tree runs these too).
#include "rag/multipart.h"

#include <gtest/gtest.h>

namespace hearth::rag {
namespace {

std::string form(const std::string& boundary, const std::vector<std::string>& parts) {
  std::string body = "preamble to ignore\r\n";
  for (const auto& p : parts) body += "--" + boundary + "\r\n" + p + "\r\n";
  return body + "--" + boundary + "--\r\nepilogue";
}

TEST(RagMultipart, BoundaryFromContentType) {
  EXPECT_EQ(*multipart_boundary("multipart/form-data; boundary=abc123"), "abc123");
  EXPECT_EQ(*multipart_boundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(*multipart_boundary("multipart/form-data; charset=utf-8; boundary=x"), "x");
  EXPECT_FALSE(multipart_boundary("application/json"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary="));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'x')));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"unterminated"));
  EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"a\x01\""));
}

TEST(RagMultipart, PartsAreSpansOfTheBody) {
  const std::string body = form(
      "XyZ", {"Content-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants",
              "Content-Disposition: form-data; name=\"file\"; filename=\"notes.md\"\r\n"
              "Content-Type: text/markdown\r\n\r\n# Title\r\n\r\nbody with --XyZ inside a line"});
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "purpose");
  EXPECT_FALSE((*parts)[0].has_filename);
  EXPECT_EQ(body.substr((*parts)[0].offset, (*parts)[0].size), "assistants");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename, "notes.md");
  EXPECT_EQ((*parts)[1].content_type, "text/markdown");
  // A boundary not at the start of a line is content, and CRLFs inside the content stay.
  EXPECT_EQ(body.substr((*parts)[1].offset, (*parts)[1].size),
            "# Title\r\n\r\nbody with --XyZ inside a line");
}

TEST(RagMultipart, EmptyContentAndEscapedQuotes) {
  const std::string body = form(
      "b",
      {"Content-Disposition: form-data; name=\"file\"; filename=\"a \\\"q\\\";.txt\"\r\n\r\n"});
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].filename, "a \"q\";.txt");
  EXPECT_EQ((*parts)[0].size, 0u);
}

TEST(RagMultipart, ExtendedFilenameWins) {
  const std::string body =
      form("b", {"Content-Disposition: form-data; name=\"file\"; "
                 "filename=\"x.txt\"; filename*=UTF-8''caf%C3%A9.md\r\n\r\nhi"});
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts) << parts.error().message;
  EXPECT_EQ((*parts)[0].filename, "caf\xc3\xa9.md");
}

TEST(RagMultipart, HostileBodiesAreErrors) {
  const std::string ok_part = "Content-Disposition: form-data; name=\"a\"\r\n\r\nv";
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"empty", ""},
      {"no boundary", "just text"},
      {"no closing boundary", "--b\r\n" + ok_part},
      {"closing boundary cut", "--b\r\n" + ok_part + "\r\n--"},
      {"headers never end", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n"},
      {"header without colon", "--b\r\nbroken header\r\n\r\nv\r\n--b--"},
      {"no disposition", "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--"},
      {"not form-data", "--b\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\nv\r\n--b--"},
      {"unterminated quote", "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--b--"},
      {"garbage after boundary", "--bXX\r\n" + ok_part + "\r\n--b--"},
      {"boundary then eof", "--b"},
      {"huge header block", "--b\r\nX-A: " + std::string(20000, 'a') + "\r\n\r\nv\r\n--b--"},
  };
  for (const auto& [what, body] : cases) {
    auto parts = parse_multipart(body, "b");
    EXPECT_FALSE(parts) << what;
  }
}

TEST(RagMultipart, TooManyPartsIsAnError) {
  std::vector<std::string> parts(40, "Content-Disposition: form-data; name=\"a\"\r\n\r\nv");
  EXPECT_FALSE(parse_multipart(form("b", parts), "b"));
  EXPECT_TRUE(parse_multipart(form("b", parts), "b", {.max_parts = 64}));
}

TEST(RagMultipart, EveryPrefixOfABodyIsSafe) {
  // Truncations at every byte: each is either an error or parts inside the prefix.
  const std::string body =
      form("zz", {"Content-Disposition: form-data; name=\"file\"; filename=\"f.txt\"\r\n\r\nhello",
                  "Content-Disposition: form-data; name=\"purpose\"\r\n\r\nassistants"});
  for (size_t n = 0; n <= body.size(); ++n) {
    const std::string prefix = body.substr(0, n);
    auto parts = parse_multipart(prefix, "zz");
    if (!parts) continue;
    for (const auto& p : *parts) EXPECT_LE(p.offset + p.size, prefix.size());
  }
}

TEST(RagMultipart, SanitizedNamesNeverNameAPath) {
  EXPECT_EQ(sanitize_filename("notes.md"), "notes.md");
  EXPECT_EQ(sanitize_filename("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_filename("..\\..\\windows\\win.ini"), "win.ini");
  EXPECT_EQ(sanitize_filename("/abs/path/x.pdf"), "x.pdf");
  EXPECT_EQ(sanitize_filename(".."), "upload");
  EXPECT_EQ(sanitize_filename("a/.."), "upload");
  EXPECT_EQ(sanitize_filename("dir/"), "upload");
  EXPECT_EQ(sanitize_filename(""), "upload");
  EXPECT_EQ(sanitize_filename("a\nb\x01.txt"), "ab.txt");
  EXPECT_EQ(sanitize_filename("ok\xff\xfe.txt"), "ok");
  EXPECT_EQ(sanitize_filename(std::string(300, 'x')).size(), 255u);
  for (const char* hostile : {"../x", "..", "a/../../b", "\\..\\", "x/..\\..", "./."}) {
    const std::string s = sanitize_filename(hostile);
    EXPECT_EQ(s.find('/'), std::string::npos) << hostile;
    EXPECT_EQ(s.find('\\'), std::string::npos) << hostile;
    EXPECT_NE(s, "..") << hostile;
  }
}

}  // namespace
}  // namespace hearth::rag
