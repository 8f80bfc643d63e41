//===- Plan.h - The launch plan of a model.kuai -----------------*- C++ -*-===//
//
// The parsed plan section (docs/artifact.md): buffers in the weights or
// arena pool, inputs and outputs, and launches whose sizes are polynomials
// over the model's symbols, evaluated once per run from the input shapes.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_RUNTIME_PLAN_H
#define KUAI_RUNTIME_PLAN_H

#include "Status.h"
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kuai::rt {

/// A polynomial with integer coefficients over named symbols.
struct Poly {
  struct Term {
    int64_t coeff;
    std::vector<int> symbols; // indices into Plan::symbols
  };
  std::vector<Term> terms;
  bool isConstant() const {
    return terms.empty() || (terms.size() == 1 && terms[0].symbols.empty());
  }
  int64_t eval(const std::vector<int64_t> &values) const;
};

struct PlanBuffer {
  bool weight = false;
  bool state = false; // KV cache pages: offset is the state's index
  uint64_t offset = 0;
  uint64_t slotBytes = 0; // arena: planned size at the bounds
  std::string dtype;
  int elementBytes = 4;
  std::vector<Poly> dims;
};

struct PlanIO {
  int buffer = -1;
  std::string name;
};

struct PlanArg {
  enum Kind { Buffer, Null, I64, I32, F32, Pack, TensorMap } kind = I64;
  int buffer = -1; // Buffer, TensorMap
  Poly value;      // I64, I32; TensorMap: rows
  // TensorMap: columns and rows of one box (the box is 64 columns wide).
  int64_t columns = 0, boxRows = 0;
  float f32 = 0;
  std::vector<Poly> pack;
};

struct PlanLaunch {
  std::string module, function, what;
  Poly grid[3];
  int64_t divisor[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned sharedBytes = 0;
  Poly bytes, flops;
  std::vector<PlanArg> args;
  /// Runs only when this evaluates above 0 (a `when` record before it).
  Poly when{{{1, {}}}};
  bool runs(const std::vector<int64_t> &values) const {
    return when.eval(values) > 0;
  }
};

struct Plan {
  std::vector<std::string> symbols;
  std::vector<int64_t> bounds;
  uint64_t arenaBytes = 0;
  std::map<int, PlanBuffer> buffers;
  std::vector<PlanIO> inputs, outputs;
  std::vector<PlanIO> states; // KV cache pools, allocated by the runtime
  std::vector<PlanLaunch> launches;
};

/// Parses the plan text; errors name the line.
kuai_status_t parsePlan(const std::string &text, Plan &out);

/// The kernels (`.entry` functions) of a PTX module whose own body holds a
/// `griddepcontrol.wait`: the kernels written to be launched as programmatic
/// dependents (they wait for the previous grid before touching memory). The
/// runtime launches only those with programmatic stream serialization.
std::set<std::string> entriesWaitingOnPreviousGrid(const std::string &ptx);
int dtypeBytes(const std::string &dtype);

} // namespace kuai::rt

#endif
