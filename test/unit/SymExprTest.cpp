//===- SymExprTest.cpp - Symbolic dimension expressions -------------------===//

#include "kuai/Support/SymExpr.h"
#include <gtest/gtest.h>

using kuai::SymExpr;

namespace {

SymExpr parse(const char *text) { return *SymExpr::parse(text); }

TEST(SymExpr, ArithmeticIsCanonical) {
  SymExpr batch = SymExpr::symbol("batch"), seq = SymExpr::symbol("seq");
  EXPECT_EQ((seq + SymExpr::constant(1)).str(), "seq + 1");
  EXPECT_EQ((batch * seq).str(), (seq * batch).str());
  EXPECT_EQ((seq + seq).str(), "2*seq");
  EXPECT_TRUE((seq - seq).isConstant());
  EXPECT_EQ((seq - seq).getConstant(), 0);
}

TEST(SymExpr, ExactDivision) {
  SymExpr bs = parse("batch*seq*256");
  EXPECT_EQ(bs.exactDiv(parse("seq*256")).str(), "batch");
  EXPECT_EQ(parse("8*batch").exactDiv(SymExpr::constant(8)).str(), "batch");
  // Not divisible: unknown rather than wrong.
  EXPECT_FALSE(parse("seq + 1").exactDiv(SymExpr::constant(2)).isKnown());
  EXPECT_FALSE(parse("batch").exactDiv(parse("seq")).isKnown());
}

TEST(SymExpr, ParsePrintRoundTrip) {
  for (const char *text :
       {"batch", "2*seq + 1", "batch*seq", "16", "?", "-1"}) {
    auto e = SymExpr::parse(text);
    ASSERT_TRUE(e.has_value()) << text;
    EXPECT_EQ(SymExpr::parse(e->str())->str(), e->str()) << text;
  }
  EXPECT_FALSE(SymExpr::parse("seq +").has_value());
  EXPECT_FALSE(SymExpr::parse("(seq").has_value());
}

TEST(SymExpr, Evaluate) {
  llvm::StringMap<int64_t> env;
  env["batch"] = 2;
  env["seq"] = 64;
  EXPECT_EQ(parse("batch*seq + 2*seq - 1").evaluate(env), 2 * 64 + 128 - 1);
  EXPECT_FALSE(parse("heads").evaluate(env).has_value());
  EXPECT_FALSE(SymExpr().evaluate(env).has_value());
}

TEST(SymExpr, UnknownPropagates) {
  SymExpr u;
  EXPECT_FALSE((u + SymExpr::constant(1)).isKnown());
  EXPECT_FALSE((u * SymExpr::symbol("seq")).isKnown());
  EXPECT_EQ(u.str(), "?");
}

} // namespace
