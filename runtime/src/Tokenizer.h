//===- Tokenizer.h - Byte-level BPE from a tokenizer.json --------*- C++
//-*-===//
//
// The tokenizer HF `tokenizers` writes for GPT-2, Llama-3 and the fixtures:
// added (special) tokens split out first, then the GPT-2 or Llama-3
// pre-tokenizer pattern, then byte-level BPE over the merges. Other
// tokenizer.json configurations (a normalizer, other pre-tokenizers, WordPiece,
// Unigram) are refused when loading, with what was found.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_RUNTIME_TOKENIZER_H
#define KUAI_RUNTIME_TOKENIZER_H

#include "Status.h"
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace kuai::rt {

class Tokenizer {
public:
  /// Reads `path` (a tokenizer.json); errors name the file and the field.
  kuai_status_t load(const std::string &path);
  /// Reads the JSON text itself; `name` is used in errors.
  kuai_status_t parse(const std::string &json, const std::string &name);

  std::vector<int32_t> encode(const std::string &text) const;
  /// The bytes of the tokens; fails on an id outside the vocabulary.
  kuai_status_t decode(const std::vector<int32_t> &ids, std::string &out) const;
  size_t vocabSize() const { return pieces.size(); }

private:
  /// One pre-token through BPE, appended to `out`.
  void encodeWord(const std::string &word, std::vector<int32_t> &out) const;

  std::vector<std::string> pieces; // id -> bytes
  std::unordered_map<std::string, int32_t> ids;
  // Merge rank of the pair (left id, right id), and the id it makes.
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges;
  std::vector<std::pair<std::string, int32_t>> added; // longest first
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;
  bool llama3Pattern = false; // else GPT-2's
};

/// Llama-3's pre-tokenizer pattern, as its tokenizer.json spells it.
inline constexpr const char *kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";

/// The pre-tokens of `text` under the GPT-2 pattern
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// (invalid UTF-8 bytes count as symbols). Exposed for tests.
std::vector<std::string> preTokenize(const std::string &text);
/// The pre-tokens of `text` under Llama-3's pattern (kLlama3Pattern).
std::vector<std::string> preTokenizeLlama3(const std::string &text);

} // namespace kuai::rt

#endif
