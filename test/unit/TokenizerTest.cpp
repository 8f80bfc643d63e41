//===- TokenizerTest.cpp - Byte-level BPE against HF tokenizers -----------===//
//
// Expected ids and pre-tokens were produced by HF `tokenizers` 0.22 from
// the fixtures' tokenizer.json (a copy is in test/unit/data), and by 0.23
// for the Llama-3 pattern (test/unit/data/llama3-*).
//
//===----------------------------------------------------------------------===//

#include "../../runtime/src/Tokenizer.h"
#include <cstdlib>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

using namespace kuai::rt;

namespace {

std::string message(kuai_status_t s) {
  std::string m = s ? kuai_status_message(s) : "";
  kuai_status_free(s);
  return m;
}

const Tokenizer &fixtureTokenizer() {
  static Tokenizer t = [] {
    Tokenizer t;
    EXPECT_EQ(message(t.load(KUAI_TEST_DATA "/tokenizer.json")), "");
    return t;
  }();
  return t;
}

std::string readFile(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

/// `text` encodes to exactly `expected` and decodes back to itself.
void expectEncodesAndDecodes(const Tokenizer &t, const std::string &text,
                             const std::vector<int32_t> &expected) {
  std::vector<int32_t> ids = t.encode(text);
  ASSERT_EQ(ids.size(), expected.size());
  size_t first = 0;
  while (first < ids.size() && ids[first] == expected[first])
    ++first;
  EXPECT_EQ(first, ids.size()) << "first difference at token " << first;
  std::string back;
  EXPECT_EQ(message(t.decode(ids, back)), "");
  EXPECT_TRUE(back == text);
}

// Tests the GPT-2 pattern's cases: contractions (case-sensitive), the
// optional leading space, runs of spaces leaving their last one to the next
// word, digits, punctuation, CJK and Unicode White_Space (U+00A0).
TEST(Tokenizer, PreTokenizesLikeTheGpt2Pattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(
      preTokenize("it's 'S we'll they've I'm"),
      (V{"it", "'s", " '", "S", " we", "'ll", " they", "'ve", " I", "'m"}));
  EXPECT_EQ(preTokenize("  two  spaces\n\n\nnew\tlines  "),
            (V{" ", " two", " ", " spaces", "\n\n", "\n", "new", "\t", "lines",
               "  "}));
  EXPECT_EQ(preTokenize("x = 12345 + 3.5e-7;"),
            (V{"x", " =", " 12345", " +", " 3", ".", "5", "e", "-", "7", ";"}));
  EXPECT_EQ(preTokenize("nbsp\u00a0here \u00a0 there"),
            (V{"nbsp", "\u00a0", "here", " \u00a0", " there"}));
  EXPECT_EQ(preTokenize("a  \n b"), (V{"a", "  \n", " b"}));
  EXPECT_EQ(preTokenize("a\x1c\x1c"
                        "b"),
            (V{"a", "\x1c\x1c", "b"})); // not White_Space
  EXPECT_EQ(preTokenize("\xff\xfe ok"), (V{"\xff\xfe", " ok"})); // bad UTF-8
}

// Tests whole encodings against HF tokenizers, and that decoding gives the
// text back.
TEST(Tokenizer, EncodesLikeHfTokenizers) {
  const Tokenizer &t = fixtureTokenizer();
  EXPECT_EQ(t.vocabSize(), 8192u);
  struct Case {
    std::string text;
    std::vector<int32_t> ids;
  } cases[] = {
      {"Hello world", {40, 6090, 7507}},
      {"it's 'S we'll they've I'm",
       {280, 608, 557, 51, 963, 4197, 1088, 7232, 361, 7, 77}},
      {"  two  spaces\n\n\nnew\tlines  ",
       {221, 1114, 221, 7493, 199, 199, 199, 1839, 198, 3924, 257}},
      {"x = 12345 + 3.5e-7;",
       {88, 507, 411, 2040, 3893, 674, 527, 14, 21, 69, 13, 23, 27}},
      {"\u4e2d\u6587\u7684\uff0c\u6d4b\u8bd5\u3002 ok",
       {1033, 1477, 427, 496, 6453, 514, 289, 75}},
      {"nbsp\u00a0here \u00a0 there",
       {78, 66, 1608, 1783, 970, 221, 1783, 1020}},
      {"<|endoftext|>after<|endoftext|>", {0, 4928, 0}},
      {"emoji \U0001F642 and \u00e9",
       {348, 79, 74, 73, 221, 173, 254, 248, 225, 318, 221, 7505}},
      {"'", {7}},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(t.encode(c.text), c.ids) << c.text;
    std::string back;
    EXPECT_EQ(message(t.decode(c.ids, back)), "");
    EXPECT_EQ(back, c.text);
  }
  std::string out;
  EXPECT_EQ(message(t.decode({8192}, out)),
            "token id 8192 is outside the vocabulary of 8192");
}

// Tests that other tokenizers and damaged files are refused with the file
// and the reason.
// Tests Llama-3's pattern against HF tokenizers 0.23's Split with it:
// case-insensitive contractions (ASCII only), one leading non-letter joined
// to a word, digits in threes, punctuation taking its line breaks, runs of
// white space up to their last line break.
TEST(Tokenizer, PreTokenizesLikeTheLlama3Pattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(preTokenizeLlama3("it's 'S WE'LL They'Ve I'M '\xc5\xbf"),
            (V{"it", "'s", " '", "S", " WE", "'LL", " They", "'Ve", " I", "'M",
               " '", "\xc5\xbf"}));
  EXPECT_EQ(preTokenizeLlama3("  two  spaces\n\n\nnew\tlines  "),
            (V{" ", " two", " ", " spaces", "\n\n\n", "new", "\tlines", "  "}));
  EXPECT_EQ(preTokenizeLlama3("x = 12345 + 3.5e-7;"),
            (V{"x", " =", " ", "123", "45", " +", " ", "3", ".", "5", "e", "-",
               "7", ";"}));
  EXPECT_EQ(preTokenizeLlama3("(word) [x]\n\n  y"),
            (V{"(word", ")", " [", "x", "]\n\n", " ", " y"}));
  EXPECT_EQ(preTokenizeLlama3(" \n\tz"), (V{" \n", "\tz"}));
  EXPECT_EQ(preTokenizeLlama3("a  \n b"), (V{"a", "  \n", " b"}));
  EXPECT_EQ(preTokenizeLlama3("nbsp\xc2\xa0here \xc2\xa0 there"),
            (V{"nbsp", "\xc2\xa0here", " \xc2\xa0", " there"}));
  EXPECT_EQ(
      preTokenizeLlama3("1234567 \xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4"),
      (V{"123", "456", "7", " ", "\xd9\xa1\xd9\xa2\xd9\xa3", "\xd9\xa4"}));
  EXPECT_EQ(preTokenizeLlama3("emoji \xf0\x9f\x98\x80\xf0\x9f\x98\x80 "
                              "ok!!\r\n\r\nnext"),
            (V{"emoji", " \xf0\x9f\x98\x80\xf0\x9f\x98\x80", " ok",
               "!!\r\n\r\n", "next"}));
  EXPECT_EQ(preTokenizeLlama3("\tTab\ttab"), (V{"\tTab", "\ttab"}));
  EXPECT_EQ(preTokenizeLlama3("end  "), (V{"end", "  "}));
  EXPECT_EQ(
      preTokenizeLlama3("\xe6\xb1\x89\xe5\xad\x97 "
                        "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"),
      (V{"\xe6\xb1\x89\xe5\xad\x97", " \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88"}));
}

const Tokenizer &llama3Tokenizer() {
  static Tokenizer t = [] {
    Tokenizer t;
    EXPECT_EQ(message(t.load(KUAI_TEST_DATA "/llama3-tokenizer.json")), "");
    return t;
  }();
  return t;
}

// Tests a Llama-3-style tokenizer.json (test/unit/data/llama3-tokenizer.json:
// the Sequence of Split by Llama-3's pattern and ByteLevel, a BPE of 3000
// trained by HF tokenizers 0.23 on the project's docs and DESIGN.md, two
// special tokens) on short texts against HF's ids.
TEST(Tokenizer, EncodesLikeHfTokenizersWithTheLlama3Pattern) {
  const Tokenizer &t = llama3Tokenizer();
  EXPECT_EQ(t.encode("Hello, world! It's 2026."),
            (std::vector<int32_t>{41, 332, 556, 13, 287, 268, 77, 69, 2, 1861,
                                  397, 222, 802, 23, 15}));
  EXPECT_EQ(t.encode("<|begin_of_text|>def f(x):\n    return x*2\n"
                     "<|end_of_text|>"),
            (std::vector<int32_t>{0, 283, 71, 281, 797, 10, 573, 340, 344, 2516,
                                  79, 856, 11, 19, 200, 1}));
}

// Tests the same tokenizer on the whole of the fixtures' eval.txt (not seen
// in its training) against HF's ids (test/unit/data/llama3-eval-ids.u16,
// little-endian uint16), and decoding them back (ctest `tokenizer`).
TEST(Tokenizer, Llama3PatternReproducesHfOnTheFixtureEvalText) {
  const char *dir = std::getenv("KUAI_FIXTURES_DIR");
  std::string text = dir ? readFile(std::string(dir) + "/text/eval.txt") : "";
  if (text.empty())
    GTEST_SKIP() << "KUAI_FIXTURES_DIR/text/eval.txt not found";
  std::string raw = readFile(KUAI_TEST_DATA "/llama3-eval-ids.u16");
  std::vector<int32_t> expected;
  for (size_t i = 0; i + 1 < raw.size(); i += 2)
    expected.push_back(uint8_t(raw[i]) | uint8_t(raw[i + 1]) << 8);
  expectEncodesAndDecodes(llama3Tokenizer(), text, expected);
}

TEST(Tokenizer, RefusesWhatItCannotRun) {
  Tokenizer t;
  EXPECT_EQ(
      message(t.parse("{\"model\": {\"type\": \"WordPiece\"}}", "t.json")),
      "t.json: model.type is 'WordPiece'; only byte-level BPE is "
      "supported");
  EXPECT_EQ(message(t.parse("{\"model\": ", "t.json")),
            "t.json: not a tokenizer.json: unexpected end at byte 10");
  EXPECT_EQ(message(t.load("/nonexistent/tokenizer.json")),
            "/nonexistent/tokenizer.json: cannot open the tokenizer");
  std::string json = readFile(KUAI_TEST_DATA "/tokenizer.json");
  // The pre-tokenizer's type, whatever the file's whitespace: a Sequence
  // without Llama-3's parts, and another kind.
  std::string llama3 = json;
  size_t at = llama3.find("\"ByteLevel\"", llama3.find("\"pre_tokenizer\""));
  ASSERT_NE(at, std::string::npos);
  llama3.replace(at, 11, "\"Sequence\"");
  EXPECT_EQ(message(t.parse(llama3, "t.json")),
            "t.json: pre_tokenizer is a Sequence other than Llama-3's (Split "
            "by its pattern, then ByteLevel without regex)");
  std::string other = json;
  at = other.find("\"ByteLevel\"", other.find("\"pre_tokenizer\""));
  other.replace(at, 11, "\"Whitespace\"");
  EXPECT_EQ(message(t.parse(other, "t.json")),
            "t.json: pre_tokenizer is 'Whitespace'; only ByteLevel with the "
            "GPT-2 pattern or Llama-3's Split + ByteLevel is supported");
}

// Tests the fixtures' exactness check: eval.txt encodes to eval.npy (HF
// tokenizers' ids, with id 0 appended), and decodes back to eval.txt.
TEST(Tokenizer, ReproducesTheFixtureEvalTokens) {
  const char *dir = std::getenv("KUAI_FIXTURES_DIR");
  std::string text = dir ? readFile(std::string(dir) + "/text/eval.txt") : "";
  std::string npy = dir ? readFile(std::string(dir) + "/text/eval.npy") : "";
  if (text.empty() || npy.size() < 10)
    GTEST_SKIP() << "KUAI_FIXTURES_DIR/text/eval.{txt,npy} not found";
  // .npy version 1: magic, version, a 2-byte header length, the header,
  // then the little-endian uint16 data.
  ASSERT_EQ(npy.compare(0, 6, "\x93NUMPY"), 0);
  size_t header = uint8_t(npy[8]) | uint8_t(npy[9]) << 8;
  ASSERT_NE(npy.find("<u2", 10), std::string::npos);
  std::vector<int32_t> expected;
  for (size_t i = 10 + header; i + 1 < npy.size(); i += 2)
    expected.push_back(uint8_t(npy[i]) | uint8_t(npy[i + 1]) << 8);
  ASSERT_EQ(expected.back(), 0);
  expected.pop_back();
  expectEncodesAndDecodes(fixtureTokenizer(), text, expected);
}

} // namespace
