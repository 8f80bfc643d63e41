//===- SymExpr.cpp - Symbolic dimension expressions -----------------------===//

#include "kuai/Support/SymExpr.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include <algorithm>
#include <cctype>

using namespace kuai;

SymExpr SymExpr::constant(int64_t value) {
  SymExpr e;
  e.known = true;
  if (value != 0)
    e.terms[{}] = value;
  return e;
}

SymExpr SymExpr::symbol(llvm::StringRef name) {
  SymExpr e;
  e.known = true;
  e.terms[{name.str()}] = 1;
  return e;
}

void SymExpr::normalize() {
  for (auto it = terms.begin(); it != terms.end();)
    it = it->second == 0 ? terms.erase(it) : std::next(it);
}

bool SymExpr::isConstant() const {
  return known &&
         (terms.empty() || (terms.size() == 1 && terms.begin()->first.empty()));
}

std::optional<int64_t> SymExpr::getConstant() const {
  if (!isConstant())
    return std::nullopt;
  return terms.empty() ? 0 : terms.begin()->second;
}

std::optional<std::string> SymExpr::getSymbolName() const {
  if (!known || terms.size() != 1)
    return std::nullopt;
  const auto &[mono, coeff] = *terms.begin();
  if (coeff != 1 || mono.size() != 1)
    return std::nullopt;
  return mono.front();
}

SymExpr SymExpr::operator+(const SymExpr &rhs) const {
  if (!known || !rhs.known)
    return unknown();
  SymExpr r = *this;
  for (const auto &[mono, coeff] : rhs.terms)
    r.terms[mono] += coeff;
  r.normalize();
  return r;
}

SymExpr SymExpr::operator-(const SymExpr &rhs) const {
  return *this + rhs * constant(-1);
}

SymExpr SymExpr::operator*(const SymExpr &rhs) const {
  if (!known || !rhs.known)
    return unknown();
  SymExpr r;
  r.known = true;
  for (const auto &[ma, ca] : terms)
    for (const auto &[mb, cb] : rhs.terms) {
      Monomial m = ma;
      m.insert(m.end(), mb.begin(), mb.end());
      std::sort(m.begin(), m.end());
      r.terms[m] += ca * cb;
    }
  r.normalize();
  return r;
}

SymExpr SymExpr::exactDiv(const SymExpr &rhs) const {
  if (!known || !rhs.known || rhs.terms.size() != 1)
    return unknown();
  const auto &[divMono, divCoeff] = *rhs.terms.begin();
  if (divCoeff == 0)
    return unknown();
  SymExpr r;
  r.known = true;
  for (const auto &[mono, coeff] : terms) {
    if (coeff % divCoeff != 0)
      return unknown();
    // Remove each symbol of the divisor from the monomial (multiset
    // difference).
    Monomial rest;
    if (!std::includes(mono.begin(), mono.end(), divMono.begin(),
                       divMono.end()))
      return unknown();
    std::set_difference(mono.begin(), mono.end(), divMono.begin(),
                        divMono.end(), std::back_inserter(rest));
    r.terms[rest] += coeff / divCoeff;
  }
  r.normalize();
  return r;
}

std::optional<int64_t>
SymExpr::evaluate(const llvm::StringMap<int64_t> &bindings) const {
  if (!known)
    return std::nullopt;
  int64_t total = 0;
  for (const auto &[mono, coeff] : terms) {
    int64_t product = coeff;
    for (const std::string &name : mono) {
      auto it = bindings.find(name);
      if (it == bindings.end())
        return std::nullopt;
      product *= it->second;
    }
    total += product;
  }
  return total;
}

std::string SymExpr::str() const {
  if (!known)
    return "?";
  if (terms.empty())
    return "0";
  // Highest degree first, the constant last: "batch*seq + 2*seq + 1".
  std::vector<std::pair<Monomial, int64_t>> ordered(terms.begin(), terms.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto &a, const auto &b) {
                     return a.first.size() > b.first.size();
                   });
  std::string out;
  for (const auto &[mono, coeff] : ordered) {
    int64_t c = coeff;
    if (!out.empty()) {
      out += c < 0 ? " - " : " + ";
      c = c < 0 ? -c : c;
    } else if (c < 0 && !mono.empty()) {
      out += "-";
      c = -c;
    }
    if (mono.empty()) {
      out += std::to_string(c);
      continue;
    }
    if (c != 1)
      out += std::to_string(c) + "*";
    out += llvm::join(mono, "*");
  }
  return out;
}

namespace {
/// Recursive-descent parser for sums of products of integers and identifiers.
struct Parser {
  llvm::StringRef text;
  size_t pos = 0;

  void skipSpace() {
    while (pos < text.size() && std::isspace(text[pos]))
      ++pos;
  }
  std::optional<SymExpr> parseFactor() {
    skipSpace();
    if (pos >= text.size())
      return std::nullopt;
    if (text[pos] == '(') {
      ++pos;
      auto e = parseSum();
      skipSpace();
      if (!e || pos >= text.size() || text[pos] != ')')
        return std::nullopt;
      ++pos;
      return e;
    }
    size_t start = pos;
    if (std::isdigit(text[pos])) {
      while (pos < text.size() && std::isdigit(text[pos]))
        ++pos;
      int64_t v;
      if (text.slice(start, pos).getAsInteger(10, v))
        return std::nullopt;
      return SymExpr::constant(v);
    }
    if (std::isalpha(text[pos]) || text[pos] == '_') {
      while (pos < text.size() &&
             (std::isalnum(text[pos]) || text[pos] == '_' || text[pos] == '.'))
        ++pos;
      return SymExpr::symbol(text.slice(start, pos));
    }
    return std::nullopt;
  }
  std::optional<SymExpr> parseProduct() {
    auto e = parseFactor();
    while (e) {
      skipSpace();
      if (pos >= text.size() || text[pos] != '*')
        break;
      ++pos;
      auto rhs = parseFactor();
      if (!rhs)
        return std::nullopt;
      e = *e * *rhs;
    }
    return e;
  }
  std::optional<SymExpr> parseSum() {
    skipSpace();
    bool negate = pos < text.size() && text[pos] == '-';
    if (negate)
      ++pos;
    auto e = parseProduct();
    if (e && negate)
      e = SymExpr::constant(0) - *e;
    while (e) {
      skipSpace();
      if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-'))
        break;
      bool minus = text[pos] == '-';
      ++pos;
      auto rhs = parseProduct();
      if (!rhs)
        return std::nullopt;
      e = minus ? *e - *rhs : *e + *rhs;
    }
    return e;
  }
};
} // namespace

std::optional<SymExpr> SymExpr::parse(llvm::StringRef text) {
  if (text.trim() == "?")
    return unknown();
  Parser p{text};
  auto e = p.parseSum();
  p.skipSpace();
  if (!e || p.pos != text.size())
    return std::nullopt;
  return e;
}
