//===- ElementwiseCodegen.cpp - Generated kernels through MLIR's GPU path -===//
//
// Each generated launch becomes a gpu.func: one thread per output element;
// the linear index is split into coordinates, every load leaf computes its
// offset from its strides (sizes known at compile time are constants, the
// rest kernel arguments), the expression is evaluated in f32 / i64 / i1
// (floats in f32, rounded to 16 bits only by explicit Casts and the final
// store), and the result is stored. On sm_90 and later a kernel first waits
// for the grid before it (griddepcontrol.wait), as every template kernel
// does, so that the runtime can launch it as a programmatic dependent
// (kuai_types.cuh says why). The gpu.module then goes through
// convert-gpu-to-nvvm and gpu-module-to-binary (NVVM target, LLVM's NVPTX
// back end) to PTX.
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace kuai;
using namespace kuai::codegen;

namespace {

enum class Rep { Float, Int, Bool };

Rep repOf(DType t) {
  if (isFloat(t))
    return Rep::Float;
  return t == DType::Bool ? Rep::Bool : Rep::Int;
}

Type memType(OpBuilder &b, DType t) {
  switch (t) {
  case DType::F32:
    return b.getF32Type();
  case DType::F16:
    return b.getF16Type();
  case DType::BF16:
    return b.getBF16Type();
  case DType::I64:
    return b.getI64Type();
  case DType::I32:
    return b.getI32Type();
  default:
    return b.getI8Type();
  }
}

/// The argument layout shared by the launch (plan) and the function.
struct Signature {
  std::vector<int> buffers;             // distinct buffers, out first
  std::vector<SymExpr> params;          // symbolic integer arguments
  llvm::DenseMap<int, int> bufferIndex; // buffer id -> position
};

/// Collects the symbolic values of a kernel in a fixed order (constants are
/// folded into the code, not passed).
class ParamCollector {
public:
  explicit ParamCollector(Signature &s) : sig(s) {}
  void add(const SymExpr &e) {
    if (e.isConstant())
      return;
    for (const SymExpr &p : sig.params)
      if (p == e)
        return;
    sig.params.push_back(e);
  }
  void addAll(const Dims &d) {
    for (const SymExpr &e : d)
      add(e);
  }

private:
  Signature &sig;
};

Signature signatureOf(const ElementwiseKernel &k) {
  Signature s;
  auto addBuffer = [&](int b) {
    if (!s.bufferIndex.count(b)) {
      s.bufferIndex[b] = int(s.buffers.size());
      s.buffers.push_back(b);
    }
  };
  addBuffer(k.out);
  ParamCollector pc(s);
  SymExpr total = SymExpr::constant(1);
  for (const SymExpr &d : k.dims)
    total = total * d;
  pc.add(total);
  pc.addAll(k.dims);
  pc.add(k.outBase);
  pc.addAll(k.outStrides);
  for (const ExprNode &n : k.nodes) {
    if (n.kind == ExprNode::Kind::Load) {
      addBuffer(n.buffer);
      pc.add(n.base);
      pc.addAll(n.strides);
      if (n.indexBuffer >= 0) {
        addBuffer(n.indexBuffer);
        pc.add(n.indexBase);
        pc.addAll(n.indexStrides);
        pc.add(n.gatherStride);
        pc.add(n.gatherExtent);
      }
    }
    if (n.kind == ExprNode::Kind::Param)
      pc.add(n.param);
  }
  return s;
}

class KernelBuilder {
public:
  KernelBuilder(OpBuilder &b, Location loc, const KernelProgram &program,
                const ElementwiseKernel &k, const Signature &sig,
                gpu::GPUFuncOp func)
      : b(b), loc(loc), program(program), k(k), sig(sig), func(func) {}

  LogicalResult build();
  std::string error;

private:
  OpBuilder &b;
  Location loc;
  const KernelProgram &program;
  const ElementwiseKernel &k;
  const Signature &sig;
  gpu::GPUFuncOp func;
  llvm::SmallVector<Value> coords;
  llvm::DenseMap<int, Value> values;

  Value i64(int64_t v) {
    return arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(v));
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
  }
  Value sym(const SymExpr &e) {
    if (auto c = e.getConstant())
      return i64(*c);
    for (size_t i = 0; i < sig.params.size(); ++i)
      if (sig.params[i] == e)
        return func.getArgument(sig.buffers.size() + i);
    llvm_unreachable("parameter not collected");
  }
  Value offset(const SymExpr &base, const Dims &strides) {
    Value off = sym(base);
    for (size_t d = 0; d < strides.size(); ++d) {
      if (strides[d] == SymExpr::constant(0))
        continue;
      Value term = arith::MulIOp::create(b, loc, coords[d], sym(strides[d]));
      off = arith::AddIOp::create(b, loc, off, term);
    }
    return off;
  }
  Value pointer(int buffer) {
    return func.getArgument(sig.bufferIndex.lookup(buffer));
  }
  /// Loads an element and widens it to its computing representation.
  Value load(int buffer, DType t, Value index) {
    Type mt = memType(b, t);
    Value p =
        LLVM::GEPOp::create(b, loc, LLVM::LLVMPointerType::get(b.getContext()),
                            mt, pointer(buffer), ValueRange{index});
    Value v = LLVM::LoadOp::create(b, loc, mt, p);
    switch (t) {
    case DType::F16:
    case DType::BF16:
      return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
    case DType::I32:
    case DType::I8:
      return arith::ExtSIOp::create(b, loc, b.getI64Type(), v);
    case DType::U8:
      return arith::ExtUIOp::create(b, loc, b.getI64Type(), v);
    case DType::Bool:
      return arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::ne, v,
          arith::ConstantOp::create(b, loc, b.getI8IntegerAttr(0)));
    default:
      return v;
    }
  }
  /// Rounds a computed float to a 16-bit type, as storing it would.
  Value round(Value v, DType t) {
    if (t != DType::F16 && t != DType::BF16)
      return v;
    Value narrow = arith::TruncFOp::create(b, loc, memType(b, t), v);
    return arith::ExtFOp::create(b, loc, b.getF32Type(), narrow);
  }
  Value convert(Value v, Rep from, DType to) {
    Rep r = repOf(to);
    if (from == r)
      return r == Rep::Float ? round(v, to) : v;
    if (from == Rep::Float && r == Rep::Int)
      return arith::FPToSIOp::create(b, loc, b.getI64Type(), v);
    if (from == Rep::Int && r == Rep::Float)
      return round(arith::SIToFPOp::create(b, loc, b.getF32Type(), v), to);
    if (from == Rep::Bool && r == Rep::Float)
      return arith::UIToFPOp::create(b, loc, b.getF32Type(), v);
    if (from == Rep::Bool && r == Rep::Int)
      return arith::ExtUIOp::create(b, loc, b.getI64Type(), v);
    if (from == Rep::Float)
      return arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UNE, v,
                                   f32(0));
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, v, i64(0));
  }
  FailureOr<Value> eval(int node);
  FailureOr<Value> evalOp(const ExprNode &n, llvm::ArrayRef<Value> in,
                          llvm::ArrayRef<Rep> reps);
};

FailureOr<Value> KernelBuilder::eval(int index) {
  if (auto it = values.find(index); it != values.end())
    return it->second;
  const ExprNode &n = k.nodes[index];
  Value v;
  switch (n.kind) {
  case ExprNode::Kind::Load: {
    Value off = offset(n.base, n.strides);
    if (n.indexBuffer >= 0) {
      Value idx = load(n.indexBuffer, program.buffers[n.indexBuffer].dtype,
                       offset(n.indexBase, n.indexStrides));
      Value negative =
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, i64(0));
      Value wrapped = arith::AddIOp::create(b, loc, idx, sym(n.gatherExtent));
      idx = arith::SelectOp::create(b, loc, negative, wrapped, idx);
      off = arith::AddIOp::create(
          b, loc, off, arith::MulIOp::create(b, loc, idx, sym(n.gatherStride)));
    }
    v = load(n.buffer, program.buffers[n.buffer].dtype, off);
    break;
  }
  case ExprNode::Kind::Const:
    v = repOf(n.type) == Rep::Float ? f32(n.value)
        : repOf(n.type) == Rep::Int
            ? i64(int64_t(n.value))
            : arith::ConstantOp::create(b, loc, b.getBoolAttr(n.value != 0))
                  .getResult();
    break;
  case ExprNode::Kind::Param:
    v = sym(n.param);
    break;
  case ExprNode::Kind::Iota:
    v = coords.empty() ? i64(0) : coords[n.axis];
    break;
  case ExprNode::Kind::Op: {
    llvm::SmallVector<Value> in;
    llvm::SmallVector<Rep> reps;
    for (int o : n.operands) {
      auto x = eval(o);
      if (failed(x))
        return failure();
      in.push_back(*x);
      reps.push_back(repOf(k.nodes[o].type));
    }
    auto r = evalOp(n, in, reps);
    if (failed(r))
      return failure();
    v = *r;
    break;
  }
  }
  values[index] = v;
  return v;
}

FailureOr<Value> KernelBuilder::evalOp(const ExprNode &n,
                                       llvm::ArrayRef<Value> in,
                                       llvm::ArrayRef<Rep> reps) {
  const std::string &op = n.op;
  Rep out = repOf(n.type);
  if (op == "cast" || op == "identity")
    return convert(in[0], reps[0], n.type);
  if (op == "fused") // a fused intermediate: converted, not rounded
    return reps[0] == out ? in[0] : convert(in[0], reps[0], n.type);
  if (op == "select")
    return Value(arith::SelectOp::create(b, loc, in[0], in[1], in[2]));
  bool fl = reps[0] == Rep::Float;
  if (op == "pow") {
    // Any mix of float and integer operands: computed in f32; an integer
    // result rounds an integer exponent's power and truncates otherwise
    // (numpy's power then astype).
    auto toF = [&](Value v, Rep r) -> Value {
      return r == Rep::Float ? v : convert(v, r, DType::F32);
    };
    Value pw =
        math::PowFOp::create(b, loc, toF(in[0], reps[0]), toF(in[1], reps[1]));
    if (out == Rep::Float)
      return pw;
    if (reps[1] != Rep::Float)
      pw = math::RoundEvenOp::create(b, loc, pw);
    return Value(arith::FPToSIOp::create(b, loc, b.getI64Type(), pw));
  }
  if (op == "fmod") // C fmod: the sign of the dividend
    return fl ? Value(arith::RemFOp::create(b, loc, in[0], in[1]))
              : Value(arith::RemSIOp::create(b, loc, in[0], in[1]));
  if (in.size() == 2) {
    Value x = in[0], y = in[1];
    using P = arith::CmpFPredicate;
    using I = arith::CmpIPredicate;
    if (op == "equal" || op == "less" || op == "greater" ||
        op == "less_or_equal" || op == "greater_or_equal") {
      if (reps[0] == Rep::Bool) {
        x = arith::ExtUIOp::create(b, loc, b.getI64Type(), x);
        y = arith::ExtUIOp::create(b, loc, b.getI64Type(), y);
      }
      if (fl) {
        P p = op == "equal"           ? P::OEQ
              : op == "less"          ? P::OLT
              : op == "greater"       ? P::OGT
              : op == "less_or_equal" ? P::OLE
                                      : P::OGE;
        return Value(arith::CmpFOp::create(b, loc, p, x, y));
      }
      I p = op == "equal"           ? I::eq
            : op == "less"          ? I::slt
            : op == "greater"       ? I::sgt
            : op == "less_or_equal" ? I::sle
                                    : I::sge;
      return Value(arith::CmpIOp::create(b, loc, p, x, y));
    }
    if (op == "and")
      return Value(arith::AndIOp::create(b, loc, x, y));
    if (op == "or")
      return Value(arith::OrIOp::create(b, loc, x, y));
    if (op == "xor")
      return Value(arith::XOrIOp::create(b, loc, x, y));
    if (fl) {
      if (op == "add")
        return Value(arith::AddFOp::create(b, loc, x, y));
      if (op == "sub")
        return Value(arith::SubFOp::create(b, loc, x, y));
      if (op == "mul")
        return Value(arith::MulFOp::create(b, loc, x, y));
      if (op == "div")
        return Value(arith::DivFOp::create(b, loc, x, y));
      if (op == "max")
        return Value(arith::MaximumFOp::create(b, loc, x, y));
      if (op == "min")
        return Value(arith::MinimumFOp::create(b, loc, x, y));
    } else {
      if (op == "add")
        return Value(arith::AddIOp::create(b, loc, x, y));
      if (op == "sub")
        return Value(arith::SubIOp::create(b, loc, x, y));
      if (op == "mul")
        return Value(arith::MulIOp::create(b, loc, x, y));
      if (op == "div")
        return Value(arith::DivSIOp::create(b, loc, x, y));
      if (op == "max")
        return Value(arith::MaxSIOp::create(b, loc, x, y));
      if (op == "min")
        return Value(arith::MinSIOp::create(b, loc, x, y));
      if (op == "mod") { // the sign of the divisor, like Python
        Value r = arith::RemSIOp::create(b, loc, x, y);
        Value rNeg = arith::CmpIOp::create(b, loc, I::slt, r, i64(0));
        Value yNeg = arith::CmpIOp::create(b, loc, I::slt, y, i64(0));
        Value nonzero = arith::CmpIOp::create(b, loc, I::ne, r, i64(0));
        Value differ = arith::XOrIOp::create(b, loc, rNeg, yNeg);
        Value fix = arith::AndIOp::create(b, loc, nonzero, differ);
        return Value(arith::SelectOp::create(
            b, loc, fix, arith::AddIOp::create(b, loc, r, y), r));
      }
    }
    error = "binary '" + op + "' on these types";
    return failure();
  }
  Value x = in[0];
  if (op == "not")
    return Value(arith::XOrIOp::create(
        b, loc, x, arith::ConstantOp::create(b, loc, b.getBoolAttr(true))));
  if (!fl) {
    if (op == "neg")
      return Value(arith::SubIOp::create(b, loc, i64(0), x));
    if (op == "abs")
      return Value(math::AbsIOp::create(b, loc, x));
    if (op == "relu")
      return Value(arith::MaxSIOp::create(b, loc, x, i64(0)));
    if (op == "sign") {
      Value pos = arith::ExtUIOp::create(
          b, loc, b.getI64Type(),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, x, i64(0)));
      Value neg = arith::ExtUIOp::create(
          b, loc, b.getI64Type(),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, i64(0)));
      return Value(arith::SubIOp::create(b, loc, pos, neg));
    }
    error = "unary '" + op + "' on integers";
    return failure();
  }
  Value one = f32(1), half = f32(0.5);
  auto sigmoid = [&](Value v) -> Value {
    Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, v));
    return arith::DivFOp::create(b, loc, one,
                                 arith::AddFOp::create(b, loc, one, e));
  };
  Value r;
  if (op == "neg")
    r = arith::NegFOp::create(b, loc, x);
  else if (op == "abs")
    r = math::AbsFOp::create(b, loc, x);
  else if (op == "exp")
    r = math::ExpOp::create(b, loc, x);
  else if (op == "log")
    r = math::LogOp::create(b, loc, x);
  else if (op == "sqrt")
    r = math::SqrtOp::create(b, loc, x);
  else if (op == "reciprocal")
    r = arith::DivFOp::create(b, loc, one, x);
  else if (op == "sigmoid")
    r = sigmoid(x);
  else if (op == "tanh")
    r = math::TanhOp::create(b, loc, x);
  else if (op == "erf")
    r = math::ErfOp::create(b, loc, x);
  else if (op == "sin")
    r = math::SinOp::create(b, loc, x);
  else if (op == "cos")
    r = math::CosOp::create(b, loc, x);
  else if (op == "floor")
    r = math::FloorOp::create(b, loc, x);
  else if (op == "ceil")
    r = math::CeilOp::create(b, loc, x);
  else if (op == "round")
    r = math::RoundEvenOp::create(b, loc, x);
  else if (op == "relu") {
    Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::UGT, x,
                                      f32(0)); // NaN stays NaN
    r = arith::SelectOp::create(b, loc, pos, x, f32(0));
  } else if (op == "silu")
    r = arith::MulFOp::create(b, loc, x, sigmoid(x));
  else if (op == "softplus")
    r = math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, x));
  else if (op == "sign") {
    Value pos = arith::UIToFPOp::create(
        b, loc, b.getF32Type(),
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, f32(0)));
    Value neg = arith::UIToFPOp::create(
        b, loc, b.getF32Type(),
        arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, f32(0)));
    r = arith::SubFOp::create(b, loc, pos, neg);
  } else if (op == "gelu") {
    Value e = math::ErfOp::create(
        b, loc, arith::MulFOp::create(b, loc, x, f32(0.70710678118654752)));
    r = arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, x),
                              arith::AddFOp::create(b, loc, one, e));
  } else if (op == "gelu_tanh") {
    Value x3 =
        arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, x, x), x);
    Value inner = arith::MulFOp::create(
        b, loc, f32(0.7978845608028654),
        arith::AddFOp::create(
            b, loc, x, arith::MulFOp::create(b, loc, f32(0.044715), x3)));
    r = arith::MulFOp::create(
        b, loc, arith::MulFOp::create(b, loc, half, x),
        arith::AddFOp::create(b, loc, one,
                              math::TanhOp::create(b, loc, inner)));
  } else {
    error = "unary '" + op + "'";
    return failure();
  }
  return Value(r);
}

/// Whether `target` ("sm_90", "sm_90a", "sm_80") has griddepcontrol.
static bool hasGridDependencyControl(llvm::StringRef target) {
  unsigned sm = 0;
  return target.consume_front("sm_") &&
         !target.take_while(llvm::isDigit).getAsInteger(10, sm) && sm >= 90;
}

LogicalResult KernelBuilder::build() {
  Block &entry = func.getBody().front();
  b.setInsertionPointToStart(&entry);
  if (hasGridDependencyControl(program.options.target)) {
    // Inline PTX with a memory clobber rather than nvvm.griddepcontrol,
    // whose LLVM intrinsic is marked as touching no memory: nothing then
    // keeps a load from moving above the wait.
    LLVM::InlineAsmOp::create(
        b, loc, Type(), ValueRange(), "griddepcontrol.wait;", "~{memory}",
        /*has_side_effects=*/true, /*is_align_stack=*/false,
        LLVM::tailcallkind::TailCallKind::None, LLVM::AsmDialectAttr(),
        ArrayAttr());
  }
  Value bid = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
  Value bdim = gpu::BlockDimOp::create(b, loc, gpu::Dimension::x);
  Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  Value linear = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, bid, bdim), tid);
  Value idx = arith::IndexCastOp::create(b, loc, b.getI64Type(), linear);
  SymExpr total = SymExpr::constant(1);
  for (const SymExpr &d : k.dims)
    total = total * d;
  Value inside =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, idx, sym(total));
  auto ifOp = scf::IfOp::create(b, loc, inside, /*withElseRegion=*/false);
  b.setInsertionPointToStart(&ifOp.getThenRegion().front());
  coords.assign(k.dims.size(), Value());
  Value rem = idx;
  for (int d = int(k.dims.size()) - 1; d >= 0; --d) {
    if (k.dims[d] == SymExpr::constant(1)) {
      coords[d] = i64(0);
      continue;
    }
    Value dim = sym(k.dims[d]);
    coords[d] = d == 0 ? rem : arith::RemSIOp::create(b, loc, rem, dim);
    if (d > 0)
      rem = arith::DivSIOp::create(b, loc, rem, dim);
  }
  auto value = eval(k.root);
  if (failed(value))
    return failure();
  DType outType = program.buffers[k.out].dtype;
  Value v = convert(*value, repOf(k.nodes[k.root].type), outType);
  Type mt = memType(b, outType);
  if (outType == DType::F16 || outType == DType::BF16)
    v = arith::TruncFOp::create(b, loc, mt, v);
  else if (outType == DType::I32 || outType == DType::I8 ||
           outType == DType::U8)
    v = arith::TruncIOp::create(b, loc, mt, v);
  else if (outType == DType::Bool)
    v = arith::ExtUIOp::create(b, loc, mt, v);
  Value p = LLVM::GEPOp::create(
      b, loc, LLVM::LLVMPointerType::get(b.getContext()), mt, pointer(k.out),
      ValueRange{offset(k.outBase, k.outStrides)});
  LLVM::StoreOp::create(b, loc, v, p);
  b.setInsertionPointToEnd(&entry);
  gpu::ReturnOp::create(b, loc);
  return success();
}

} // namespace

/// Names each generated launch and fills its grid and arguments.
void kuai::codegen::finalizeGeneratedLaunches(KernelProgram &program) {
  int counter = 0;
  for (Launch &l : program.launches) {
    if (!l.elementwise)
      continue;
    const ElementwiseKernel &k = *l.elementwise;
    Signature sig = signatureOf(k);
    l.function = "kuai_ew" + std::to_string(counter++);
    SymExpr total = SymExpr::constant(1);
    for (const SymExpr &d : k.dims)
      total = total * d;
    l.grid[0] = {total, 256};
    l.grid[1] = l.grid[2] = GridDim();
    l.block[0] = 256;
    l.args.clear();
    for (int b : sig.buffers)
      l.args.push_back(Arg::buf(b));
    for (const SymExpr &e : sig.params)
      l.args.push_back(Arg::i64(e));
    SymExpr bytes = SymExpr::constant(0);
    for (int b : sig.buffers)
      if (b != k.out)
        bytes =
            bytes + program.buffers[b].numel() *
                        SymExpr::constant(dtypeBytes(program.buffers[b].dtype));
    l.bytes = bytes + total * SymExpr::constant(
                                  dtypeBytes(program.buffers[k.out].dtype));
  }
}

llvm::Expected<std::string>
kuai::codegen::generateElementwisePtx(const KernelProgram &program) {
  bool any = llvm::any_of(program.launches, [](const Launch &l) {
    return l.elementwise.has_value();
  });
  if (!any)
    return std::string();
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, cf::ControlFlowDialect,
                  func::FuncDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                  NVVM::NVVMDialect, math::MathDialect, scf::SCFDialect>();
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertNVVMToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerBuiltinDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::string diagnostics;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    diagnostics += d.str() + "\n";
    return success();
  });

  OpBuilder b(&context);
  Location loc = UnknownLoc::get(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  (*module)->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                     b.getUnitAttr());
  b.setInsertionPointToEnd(module->getBody());
  auto target = NVVM::NVVMTargetAttr::get(
      &context, /*optLevel=*/3, "nvptx64-nvidia-cuda", program.options.target);
  auto gpuModule =
      gpu::GPUModuleOp::create(b, loc, "generated", b.getArrayAttr({target}));
  for (const Launch &l : program.launches) {
    if (!l.elementwise)
      continue;
    const ElementwiseKernel &k = *l.elementwise;
    Signature sig = signatureOf(k);
    llvm::SmallVector<Type> args(sig.buffers.size(),
                                 LLVM::LLVMPointerType::get(&context));
    args.append(sig.params.size(), b.getI64Type());
    b.setInsertionPointToEnd(gpuModule.getBody());
    auto func =
        gpu::GPUFuncOp::create(b, loc, l.function, b.getFunctionType(args, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    KernelBuilder kb(b, loc, program, k, sig, func);
    if (failed(kb.build()))
      return llvm::createStringError("generated kernel " + l.function + " (" +
                                     l.what + "): no code for " + kb.error);
  }
  PassManager pm(&context);
  OpPassManager &inner = pm.nest<gpu::GPUModuleOp>();
  inner.addPass(createSCFToControlFlowPass());
  inner.addPass(createConvertGpuOpsToNVVMOps());
  inner.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions toBinary;
  toBinary.compilationTarget = "isa";
  pm.addPass(createGpuModuleToBinaryPass(toBinary));
  if (failed(pm.run(*module)))
    return llvm::createStringError("MLIR GPU lowering of the generated "
                                   "kernels failed:\n" +
                                   diagnostics);
  std::string ptx;
  module->walk([&](gpu::BinaryOp bin) {
    for (Attribute a : bin.getObjects())
      if (auto obj = dyn_cast<gpu::ObjectAttr>(a))
        ptx = obj.getObject().str();
  });
  if (ptx.empty())
    return llvm::createStringError(
        "no PTX came out of gpu-module-to-binary:\n" + diagnostics);
  return ptx;
}
