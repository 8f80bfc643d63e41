//===- SymExpr.h - Symbolic dimension expressions ---------------*- C++ -*-===//
//
// A dimension of a kuai tensor is a constant, a polynomial over named symbols
// with integer coefficients (`batch`, `seq`, `2*seq`, `batch*seq + 1`), or
// unknown. Polynomials are closed under the arithmetic that shape subgraphs of
// exported models do (add, sub, mul) and support exact division, so reshapes
// such as [batch*seq, 256] -> [batch, seq, 256] stay symbolic.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_SUPPORT_SYMEXPR_H
#define KUAI_SUPPORT_SYMEXPR_H

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kuai {

class SymExpr {
public:
  /// A product of symbol names, sorted; the empty monomial is the constant 1.
  using Monomial = std::vector<std::string>;

  /// The unknown expression.
  SymExpr() = default;
  static SymExpr constant(int64_t value);
  static SymExpr symbol(llvm::StringRef name);
  static SymExpr unknown() { return SymExpr(); }

  /// Parses the printed form ("batch", "2*seq + 1", "?", "16"). Returns
  /// std::nullopt when the text is not an expression.
  static std::optional<SymExpr> parse(llvm::StringRef text);

  bool isKnown() const { return known; }
  bool isConstant() const;
  std::optional<int64_t> getConstant() const;
  /// A single symbol with coefficient 1 (what graph inputs declare).
  std::optional<std::string> getSymbolName() const;

  SymExpr operator+(const SymExpr &rhs) const;
  SymExpr operator-(const SymExpr &rhs) const;
  SymExpr operator*(const SymExpr &rhs) const;
  /// Exact division: known only when every term is divisible.
  SymExpr exactDiv(const SymExpr &rhs) const;
  bool operator==(const SymExpr &rhs) const {
    return known == rhs.known && terms == rhs.terms;
  }
  bool operator!=(const SymExpr &rhs) const { return !(*this == rhs); }

  /// Evaluates with the given symbol values; std::nullopt if unknown or a
  /// symbol is unbound.
  std::optional<int64_t>
  evaluate(const llvm::StringMap<int64_t> &bindings) const;

  /// Canonical text: "?" for unknown, otherwise terms in a fixed order.
  std::string str() const;

private:
  bool known = false;
  std::map<Monomial, int64_t> terms;
  void normalize();
};

} // namespace kuai

#endif
