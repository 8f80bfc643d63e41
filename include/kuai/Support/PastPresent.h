//===- PastPresent.h - Names of past/present exports ------------*- C++ -*-===//
//
// Models exported with explicit KV tensors take `past_key_values.N.key` and
// `past_key_values.N.value` ([batch, kv_heads, past, head_dim]) and return
// `present.N.key` / `present.N.value` (past and new concatenated). The
// importer and kuai-drop-empty-past recognise them by these names.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_SUPPORT_PASTPRESENT_H
#define KUAI_SUPPORT_PASTPRESENT_H

#include "llvm/ADT/StringRef.h"

namespace kuai {

/// `prefix` + N + `.key` or `.value`, N decimal.
inline bool isKvTensorName(llvm::StringRef name, llvm::StringRef prefix) {
  if (!name.consume_front(prefix))
    return false;
  size_t digits = name.find_first_not_of("0123456789");
  if (digits == 0 || digits == llvm::StringRef::npos)
    return false;
  llvm::StringRef rest = name.drop_front(digits);
  return rest == ".key" || rest == ".value";
}

/// `past_key_values.N.key` or `past_key_values.N.value`.
inline bool isPastInputName(llvm::StringRef name) {
  return isKvTensorName(name, "past_key_values.");
}

/// `present.N.key` or `present.N.value`.
inline bool isPresentOutputName(llvm::StringRef name) {
  return isKvTensorName(name, "present.");
}

} // namespace kuai

#endif
