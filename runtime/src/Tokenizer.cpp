//===- Tokenizer.cpp - Byte-level BPE from a tokenizer.json ---------------===//

#include "Tokenizer.h"
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

using namespace kuai::rt;

namespace {

#include "UnicodeTables.inc"

template <size_t N>
bool inRanges(const CodepointRange (&table)[N], unsigned cp) {
  auto it = std::upper_bound(
      table, table + N, cp,
      [](unsigned c, const CodepointRange &r) { return c < r.first; });
  return it != table && cp <= (it - 1)->last;
}

//===-- A JSON reader for what tokenizer.json holds -----------------------===//

struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> items;                           // Array
  std::vector<std::pair<std::string, Json>> members; // Object, in order
  const Json *get(const std::string &key) const {
    for (const auto &[k, v] : members)
      if (k == key)
        return &v;
    return nullptr;
  }
};

class JsonReader {
public:
  explicit JsonReader(const std::string &text) : s(text) {}
  bool read(Json &out) {
    if (!value(out, 0))
      return false;
    space();
    return at == s.size() || fail("text after the JSON value");
  }
  std::string error;

private:
  const std::string &s;
  size_t at = 0;

  bool fail(const std::string &what) {
    if (error.empty())
      error = what + " at byte " + std::to_string(at);
    return false;
  }
  void space() {
    while (at < s.size() &&
           (s[at] == ' ' || s[at] == '\n' || s[at] == '\r' || s[at] == '\t'))
      ++at;
  }
  bool literal(const char *word) {
    size_t n = std::char_traits<char>::length(word);
    if (s.compare(at, n, word) != 0)
      return fail("unexpected character");
    at += n;
    return true;
  }
  static void appendUtf8(std::string &out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  bool hex4(unsigned &v) {
    if (at + 4 > s.size())
      return fail("truncated \\u escape");
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s[at++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= unsigned(c - 'A' + 10);
      else
        return fail("bad \\u escape");
    }
    return true;
  }
  bool string(std::string &out) {
    ++at; // the opening quote
    while (at < s.size() && s[at] != '"') {
      char c = s[at++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at >= s.size())
        break;
      char e = s[at++];
      switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        unsigned cp = 0;
        if (!hex4(cp))
          return false;
        if (cp >= 0xD800 && cp < 0xDC00 && s.compare(at, 2, "\\u") == 0) {
          at += 2;
          unsigned low = 0;
          if (!hex4(low))
            return false;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default: // \" \\ \/
        out += e;
      }
    }
    if (at >= s.size())
      return fail("unterminated string");
    ++at;
    return true;
  }
  bool value(Json &v, int depth) {
    if (depth > 64)
      return fail("nesting too deep");
    space();
    if (at >= s.size())
      return fail("unexpected end");
    char c = s[at];
    if (c == '{') {
      v.kind = Json::Object;
      ++at;
      space();
      if (at < s.size() && s[at] == '}')
        return ++at, true;
      while (true) {
        space();
        if (at >= s.size() || s[at] != '"')
          return fail("expected a member name");
        std::string key;
        if (!string(key))
          return false;
        space();
        if (at >= s.size() || s[at++] != ':')
          return fail("expected ':'");
        v.members.emplace_back(std::move(key), Json());
        if (!value(v.members.back().second, depth + 1))
          return false;
        space();
        if (at < s.size() && s[at] == ',') {
          ++at;
          continue;
        }
        if (at < s.size() && s[at] == '}')
          return ++at, true;
        return fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = Json::Array;
      ++at;
      space();
      if (at < s.size() && s[at] == ']')
        return ++at, true;
      while (true) {
        v.items.emplace_back();
        if (!value(v.items.back(), depth + 1))
          return false;
        space();
        if (at < s.size() && s[at] == ',') {
          ++at;
          continue;
        }
        if (at < s.size() && s[at] == ']')
          return ++at, true;
        return fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      v.kind = Json::String;
      return string(v.string);
    }
    if (c == 't' || c == 'f') {
      v.kind = Json::Bool;
      v.boolean = c == 't';
      return literal(c == 't' ? "true" : "false");
    }
    if (c == 'n')
      return literal("null");
    char *end = nullptr;
    v.kind = Json::Number;
    v.number = std::strtod(s.c_str() + at, &end);
    if (end == s.c_str() + at)
      return fail("unexpected character");
    at = size_t(end - s.c_str());
    return true;
  }
};

//===-- Byte-level alphabet -----------------------------------------------===//

/// GPT-2's printable stand-in for each byte: bytes that print as themselves
/// keep their codepoint, the others take 256, 257, ... in byte order.
std::vector<unsigned> byteToCodepoint() {
  std::vector<unsigned> map(256);
  unsigned next = 256;
  for (unsigned b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) ||
                     (b >= 174 && b <= 255);
    map[b] = printable ? b : next++;
  }
  return map;
}

/// Decodes one UTF-8 codepoint at `i`; invalid bytes decode as themselves,
/// one at a time, with `valid` false.
unsigned nextCodepoint(const std::string &s, size_t i, size_t &length,
                       bool &valid) {
  unsigned char c = s[i];
  int extra = c < 0x80         ? 0
              : (c >> 5) == 6  ? 1
              : (c >> 4) == 14 ? 2
              : (c >> 3) == 30 ? 3
                               : -1;
  valid = extra >= 0 && i + extra < s.size();
  unsigned cp = extra == 0   ? c
                : extra == 1 ? c & 0x1F
                : extra == 2 ? c & 0x0F
                             : c & 0x07;
  for (int k = 1; valid && k <= extra; ++k) {
    unsigned char d = s[i + k];
    valid = (d >> 6) == 2;
    cp = (cp << 6) | (d & 0x3F);
  }
  length = valid ? size_t(extra + 1) : 1;
  return valid ? cp : c;
}

/// The bytes a byte-level vocabulary entry stands for; false when it holds
/// a character outside the byte alphabet.
bool piecesToBytes(const std::string &entry, std::string &bytes) {
  static const std::vector<int> back = [] {
    std::vector<int> b(512, -1);
    std::vector<unsigned> map = byteToCodepoint();
    for (unsigned i = 0; i < 256; ++i)
      b[map[i]] = int(i);
    return b;
  }();
  bytes.clear();
  for (size_t i = 0; i < entry.size();) {
    size_t n;
    bool valid;
    unsigned cp = nextCodepoint(entry, i, n, valid);
    if (!valid || cp >= back.size() || back[cp] < 0)
      return false;
    bytes += char(back[cp]);
    i += n;
  }
  return true;
}

enum class CharClass { Letter, Number, Space, Other };

CharClass classify(unsigned cp, bool valid) {
  if (!valid)
    return CharClass::Other;
  if (inRanges(kLetterRanges, cp))
    return CharClass::Letter;
  if (inRanges(kNumberRanges, cp))
    return CharClass::Number;
  if (inRanges(kWhiteSpaceRanges, cp))
    return CharClass::Space;
  return CharClass::Other;
}

kuai_status_t invalid(const std::string &name, const std::string &what) {
  return makeStatus(KUAI_INVALID_ARGUMENT, name + ": " + what);
}

} // namespace

namespace {

struct Char {
  size_t offset;
  unsigned cp;
  CharClass cls;
};

/// The codepoints of `text` with their byte offsets and classes.
std::vector<Char> decodeChars(const std::string &text) {
  std::vector<Char> chars;
  for (size_t i = 0; i < text.size();) {
    size_t n;
    bool valid;
    unsigned cp = nextCodepoint(text, i, n, valid);
    chars.push_back({i, cp, classify(cp, valid)});
    i += n;
  }
  return chars;
}

/// Length of a contraction ('s 't 're 've 'm 'll 'd) at `i`, or 0; with
/// `anyCase`, ASCII letters match in either case (HF's Llama-3 pattern does
/// not fold other letters: 'ſ is no contraction).
size_t contraction(const std::vector<Char> &chars, size_t i, bool anyCase) {
  size_t n = chars.size();
  if (chars[i].cp != '\'' || i + 1 >= n)
    return 0;
  auto lower = [&](size_t k) -> unsigned {
    if (k >= n)
      return 0;
    unsigned c = chars[k].cp;
    return anyCase && c >= 'A' && c <= 'Z' ? c + 32 : c;
  };
  unsigned a = lower(i + 1), b = lower(i + 2);
  if (a == 's' || a == 't' || a == 'm' || a == 'd')
    return 2;
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
      (a == 'l' && b == 'l'))
    return 3;
  return 0;
}

} // namespace

std::vector<std::string> kuai::rt::preTokenize(const std::string &text) {
  std::vector<Char> chars = decodeChars(text);
  const size_t n = chars.size();
  auto cp = [&](size_t k) { return k < n ? chars[k].cp : 0u; };
  auto cls = [&](size_t k) { return chars[k].cls; };
  std::vector<std::string> out;
  auto emit = [&](size_t from, size_t to) {
    size_t end = to < n ? chars[to].offset : text.size();
    out.push_back(text.substr(chars[from].offset, end - chars[from].offset));
  };
  for (size_t i = 0; i < n;) {
    // 's 't 're 've 'm 'll 'd
    if (size_t len = contraction(chars, i, /*anyCase=*/false)) {
      emit(i, i + len);
      i += len;
      continue;
    }
    // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`, in this order.
    bool matched = false;
    for (CharClass c :
         {CharClass::Letter, CharClass::Number, CharClass::Other}) {
      size_t start = cp(i) == ' ' && i + 1 < n && cls(i + 1) == c ? i + 1 : i;
      if (cls(start) != c)
        continue;
      size_t j = start;
      while (j < n && cls(j) == c)
        ++j;
      emit(i, j);
      i = j;
      matched = true;
      break;
    }
    if (matched)
      continue;
    // `\s+(?!\S)`, else `\s+`: a run of spaces leaves its last one to the
    // token that follows it.
    size_t j = i;
    while (j < n && cls(j) == CharClass::Space)
      ++j;
    if (j < n && j - i >= 2)
      --j;
    emit(i, j);
    i = j;
  }
  return out;
}

std::vector<std::string> kuai::rt::preTokenizeLlama3(const std::string &text) {
  std::vector<Char> chars = decodeChars(text);
  const size_t n = chars.size();
  auto cls = [&](size_t k) { return chars[k].cls; };
  auto newline = [&](size_t k) {
    return chars[k].cp == '\r' || chars[k].cp == '\n';
  };
  std::vector<std::string> out;
  auto emit = [&](size_t from, size_t to) {
    size_t end = to < n ? chars[to].offset : text.size();
    out.push_back(text.substr(chars[from].offset, end - chars[from].offset));
  };
  auto run = [&](size_t from, CharClass c) {
    while (from < n && cls(from) == c)
      ++from;
    return from;
  };
  for (size_t i = 0; i < n;) {
    size_t end = 0;
    if (size_t len = contraction(chars, i, /*anyCase=*/true)) {
      end = i + len;
    } else if (cls(i) == CharClass::Letter) {
      // `[^\r\n\p{L}\p{N}]?\p{L}+` without the optional character.
      end = run(i, CharClass::Letter);
    } else if (cls(i) != CharClass::Number && !newline(i) && i + 1 < n &&
               cls(i + 1) == CharClass::Letter) {
      end = run(i + 1, CharClass::Letter); // ... with it
    } else if (cls(i) == CharClass::Number) {
      end = i + 1; // `\p{N}{1,3}`
      while (end < n && end < i + 3 && cls(end) == CharClass::Number)
        ++end;
    } else if (size_t start = chars[i].cp == ' ' && i + 1 < n &&
                                      cls(i + 1) == CharClass::Other
                                  ? i + 1
                                  : i;
               cls(start) == CharClass::Other) {
      // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
      end = run(start, CharClass::Other);
      while (end < n && newline(end))
        ++end;
    } else {
      // A run of white space: `\s*[\r\n]+` up to its last line break;
      // else `\s+(?!\S)` (all but the last when more follows) or `\s+`.
      size_t stop = run(i, CharClass::Space), lastBreak = n;
      for (size_t k = i; k < stop; ++k)
        if (newline(k))
          lastBreak = k;
      if (lastBreak < n)
        end = lastBreak + 1;
      else if (stop < n && stop - i >= 2)
        end = stop - 1;
      else
        end = stop;
    }
    emit(i, end);
    i = end;
  }
  return out;
}

kuai_status_t Tokenizer::load(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return makeStatus(KUAI_NOT_FOUND, path + ": cannot open the tokenizer");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

kuai_status_t Tokenizer::parse(const std::string &text,
                               const std::string &name) {
  Json root;
  JsonReader reader(text);
  if (!reader.read(root) || root.kind != Json::Object)
    return invalid(name, "not a tokenizer.json: " + (reader.error.empty()
                                                         ? "not a JSON object"
                                                         : reader.error));
  const Json *model = root.get("model");
  const Json *type = model ? model->get("type") : nullptr;
  if (!type || type->string != "BPE")
    return invalid(name, "model.type is '" + (type ? type->string : "") +
                             "'; only byte-level BPE is supported");
  if (const Json *norm = root.get("normalizer");
      norm && norm->kind != Json::Null)
    return invalid(name, "a normalizer is not supported");
  const Json *pre = root.get("pre_tokenizer");
  const Json *preType = pre ? pre->get("type") : nullptr;
  const Json *regex = pre ? pre->get("use_regex") : nullptr;
  llama3Pattern = false;
  if (preType && preType->string == "Sequence") {
    // Llama-3: Split by its pattern (isolated), then ByteLevel without
    // its own regex.
    const Json *list = pre->get("pretokenizers");
    const Json *split =
        list && list->items.size() == 2 ? &list->items[0] : nullptr;
    const Json *byteLevel = split ? &list->items[1] : nullptr;
    auto field = [](const Json *j, const char *key) {
      const Json *f = j ? j->get(key) : nullptr;
      return f ? f->string : std::string();
    };
    const Json *pattern = split ? split->get("pattern") : nullptr;
    const Json *invert = split ? split->get("invert") : nullptr;
    const Json *byteRegex = byteLevel ? byteLevel->get("use_regex") : nullptr;
    if (field(split, "type") != "Split" ||
        field(pattern, "Regex") != kLlama3Pattern ||
        field(split, "behavior") != "Isolated" || (invert && invert->boolean) ||
        field(byteLevel, "type") != "ByteLevel" || !byteRegex ||
        byteRegex->boolean)
      return invalid(name, "pre_tokenizer is a Sequence other than Llama-3's "
                           "(Split by its pattern, then ByteLevel without "
                           "regex)");
    llama3Pattern = true;
    pre = byteLevel;
  } else if (!preType || preType->string != "ByteLevel" ||
             (regex && !regex->boolean)) {
    return invalid(name, "pre_tokenizer is '" +
                             (preType ? preType->string : "none") +
                             "'; only ByteLevel with the GPT-2 pattern or "
                             "Llama-3's Split + ByteLevel is supported");
  }
  const Json *prefix = pre->get("add_prefix_space");
  if (prefix && prefix->boolean)
    return invalid(name, "pre_tokenizer.add_prefix_space is not supported");
  const Json *vocab = model->get("vocab");
  const Json *mergeList = model->get("merges");
  if (!vocab || vocab->kind != Json::Object || !mergeList ||
      mergeList->kind != Json::Array)
    return invalid(name, "model.vocab or model.merges is missing");

  pieces.assign(vocab->members.size(), std::string());
  std::vector<bool> seen(pieces.size(), false);
  std::string bytes;
  for (const auto &[entry, id] : vocab->members) {
    int64_t i = int64_t(id.number);
    if (id.kind != Json::Number || i < 0 || i >= int64_t(pieces.size()) ||
        seen[i])
      return invalid(name,
                     "vocab entry '" + entry + "' has a bad or repeated id");
    seen[i] = true;
    // Entries outside the byte alphabet are added tokens, set below.
    if (piecesToBytes(entry, bytes)) {
      pieces[i] = bytes;
      ids.emplace(bytes, int32_t(i));
    }
  }
  if (const Json *list = root.get("added_tokens")) {
    for (const Json &t : list->items) {
      const Json *content = t.get("content"), *id = t.get("id");
      if (!content || !id || id->number < 0)
        return invalid(name, "an added token lacks its content or id");
      size_t i = size_t(id->number);
      if (i >= pieces.size())
        pieces.resize(i + 1);
      pieces[i] = content->string;
      added.emplace_back(content->string, int32_t(i));
    }
  }
  std::sort(added.begin(), added.end(), [](const auto &a, const auto &b) {
    return a.first.size() > b.first.size();
  });
  for (unsigned b = 0; b < 256; ++b)
    if (!ids.count(std::string(1, char(b))))
      return invalid(name, "the vocabulary lacks byte " + std::to_string(b) +
                               " (not a byte-level BPE)");
  for (size_t rank = 0; rank < mergeList->items.size(); ++rank) {
    const Json &m = mergeList->items[rank];
    std::string left, right;
    if (m.kind == Json::Array && m.items.size() == 2) {
      left = m.items[0].string;
      right = m.items[1].string;
    } else if (m.kind == Json::String &&
               m.string.find(' ') != std::string::npos) {
      left = m.string.substr(0, m.string.find(' '));
      right = m.string.substr(m.string.find(' ') + 1);
    } else {
      return invalid(name, "merge " + std::to_string(rank) + " is malformed");
    }
    std::string lb, rb;
    if (!piecesToBytes(left, lb) || !piecesToBytes(right, rb) ||
        !ids.count(lb) || !ids.count(rb) || !ids.count(lb + rb))
      return invalid(name, "merge " + std::to_string(rank) + " ('" + left +
                               "', '" + right + "') uses unknown tokens");
    uint64_t key = uint64_t(uint32_t(ids[lb])) << 32 | uint32_t(ids[rb]);
    merges.emplace(key, std::make_pair(int32_t(rank), ids[lb + rb]));
  }
  return nullptr;
}

void Tokenizer::encodeWord(const std::string &word,
                           std::vector<int32_t> &out) const {
  if (auto it = cache.find(word); it != cache.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<int32_t> symbols;
  for (char c : word)
    symbols.push_back(ids.at(std::string(1, c)));
  // Merge the lowest-ranked pair (leftmost among equals) until none is left.
  while (symbols.size() > 1) {
    int32_t bestRank = -1, bestId = 0;
    size_t at = 0;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      uint64_t key =
          uint64_t(uint32_t(symbols[i])) << 32 | uint32_t(symbols[i + 1]);
      auto m = merges.find(key);
      if (m != merges.end() && (bestRank < 0 || m->second.first < bestRank)) {
        bestRank = m->second.first;
        bestId = m->second.second;
        at = i;
      }
    }
    if (bestRank < 0)
      break;
    symbols[at] = bestId;
    symbols.erase(symbols.begin() + at + 1);
  }
  cache.emplace(word, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::vector<int32_t> Tokenizer::encode(const std::string &text) const {
  std::vector<int32_t> out;
  size_t at = 0;
  auto plain = [&](size_t from, size_t to) {
    std::string part = text.substr(from, to - from);
    for (const std::string &word :
         llama3Pattern ? preTokenizeLlama3(part) : preTokenize(part))
      encodeWord(word, out);
  };
  // Added tokens are split out first, leftmost, longest first.
  while (at < text.size()) {
    size_t best = std::string::npos;
    const std::pair<std::string, int32_t> *token = nullptr;
    for (const auto &t : added) {
      size_t p = t.first.empty() ? std::string::npos : text.find(t.first, at);
      if (p < best) {
        best = p;
        token = &t;
      }
    }
    if (!token) {
      plain(at, text.size());
      break;
    }
    plain(at, best);
    out.push_back(token->second);
    at = best + token->first.size();
  }
  return out;
}

kuai_status_t Tokenizer::decode(const std::vector<int32_t> &idsIn,
                                std::string &out) const {
  out.clear();
  for (int32_t id : idsIn) {
    if (id < 0 || size_t(id) >= pieces.size())
      return makeStatus(KUAI_INVALID_ARGUMENT,
                        "token id " + std::to_string(id) +
                            " is outside the vocabulary of " +
                            std::to_string(pieces.size()));
    out += pieces[id];
  }
  return nullptr;
}

//===-- C API -------------------------------------------------------------===//

struct kuai_tokenizer_s {
  Tokenizer tokenizer;
};

extern "C" kuai_status_t kuai_tokenizer_load(const char *path,
                                             kuai_tokenizer_t *out) {
  if (!path || !out)
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "kuai_tokenizer_load: null argument");
  auto t = std::make_unique<kuai_tokenizer_s>();
  if (kuai_status_t s = t->tokenizer.load(path))
    return s;
  *out = t.release();
  return nullptr;
}

extern "C" void kuai_tokenizer_release(kuai_tokenizer_t tokenizer) {
  delete tokenizer;
}

extern "C" size_t kuai_tokenizer_vocab_size(kuai_tokenizer_t tokenizer) {
  return tokenizer ? tokenizer->tokenizer.vocabSize() : 0;
}

extern "C" kuai_status_t kuai_tokenizer_encode(kuai_tokenizer_t tokenizer,
                                               const char *text, size_t length,
                                               int32_t *out_ids,
                                               size_t capacity,
                                               size_t *out_count) {
  if (!tokenizer || (!text && length) || !out_count || (!out_ids && capacity))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "kuai_tokenizer_encode: null argument");
  std::vector<int32_t> ids =
      tokenizer->tokenizer.encode(std::string(text ? text : "", length));
  std::copy_n(ids.begin(), std::min(capacity, ids.size()), out_ids);
  *out_count = ids.size();
  return nullptr;
}

extern "C" kuai_status_t kuai_tokenizer_decode(kuai_tokenizer_t tokenizer,
                                               const int32_t *ids, size_t count,
                                               char *out_text, size_t capacity,
                                               size_t *out_length) {
  if (!tokenizer || (!ids && count) || !out_length || (!out_text && capacity))
    return makeStatus(KUAI_INVALID_ARGUMENT,
                      "kuai_tokenizer_decode: null argument");
  std::string text;
  if (kuai_status_t s = tokenizer->tokenizer.decode(
          std::vector<int32_t>(ids, ids + count), text))
    return s;
  std::copy_n(text.begin(), std::min(capacity, text.size()), out_text);
  *out_length = text.size();
  return nullptr;
}
