//===- LowerToKernels.cpp - Transformer IR to kernel launches -------------===//
//
// kuai-lower-to-kernels: walks @main in order and gives every op a launch
// over buffers. Matrix, norm, rotary, attention and MoE work goes to the
// CUDA templates (generic_kernels.cu); elementwise arithmetic, casts and
// data movement (transpose, slice, expand, split, concat, gather,
// embedding, range) become generated kernels: an expression tree whose
// leaves are strided loads, so movement costs no extra pass over memory
// once fused. Reshapes, squeezes and unsqueezes are views (no launch).
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Reference/Tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace kuai;
using namespace kuai::codegen;

namespace {

/// SMs of the H100 and H200 (sm_90): the waves of tiles the Hopper linears
/// are ranked by, and the grid of the persistent one.
constexpr int64_t kHopperSMs = 132;

/// Whether `v` feeds only an activation that kuai-fuse-kernels folds into a
/// linear's epilogue (GELU, SiLU, ReLU), directly or through one view of
/// all its elements (reshape, flatten, squeeze, unsqueeze, identity: what
/// its soleReshape accepts).
bool feedsFoldedActivation(Value v) {
  for (int hop = 0; hop < 2; ++hop) {
    if (!v.hasOneUse())
      return false;
    Operation *user = *v.getUsers().begin();
    if (isa<GeluOp, SiluOp, ReluOp>(user))
      return true;
    if (!isa<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp, IdentityOp>(user))
      return false;
    v = user->getResult(0);
  }
  return false;
}

class Lowering {
public:
  Lowering(func::FuncOp func, const CompileOptions &options) : func(func) {
    program.options = options;
  }

  llvm::Expected<KernelProgram> run();

private:
  func::FuncOp func;
  KernelProgram program;
  llvm::DenseMap<Value, int> buffers;
  std::string error;

  llvm::Error fail(Operation *op, const llvm::Twine &message) {
    std::string where;
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      where = " (node '" + name.getName().str() + "')";
    return llvm::createStringError(op->getName().getStringRef().str() + where +
                                   ": " + message.str());
  }

  std::optional<DType> mapType(Type t) {
    const std::string &want = program.options.dtype;
    if (t.isF32() || t.isF16() || t.isBF16()) {
      if (want == "fp16")
        return DType::F16;
      if (want == "bf16")
        return DType::BF16;
      if (want == "fp32")
        return DType::F32;
      return t.isF32() ? DType::F32 : t.isF16() ? DType::F16 : DType::BF16;
    }
    if (t.isInteger(64))
      return DType::I64;
    if (t.isInteger(32))
      return DType::I32;
    if (t.isInteger(1))
      return DType::Bool;
    if (t.isSignlessInteger(8) || t.isSignedInteger(8))
      return DType::I8;
    if (t.isUnsignedInteger(8))
      return DType::U8;
    return std::nullopt;
  }

  static Dims dimsOf(Value v) {
    auto d = getSymDims(v.getType());
    return d ? Dims(d->begin(), d->end()) : Dims();
  }

  /// The strides of `in` read as `out` under numpy broadcasting.
  static Dims broadcastStrides(const Dims &in, const Dims &out) {
    Dims c = contiguousStrides(in), s(out.size(), SymExpr::constant(0));
    size_t shift = out.size() - in.size();
    for (size_t d = 0; d < in.size(); ++d)
      if (!(in[d].getConstant() == int64_t(1) &&
            out[d + shift].getConstant() != int64_t(1)))
        s[d + shift] = c[d];
    return s;
  }

  llvm::Expected<int> weightBuffer(ConstantOp c, DType dtype);
  /// A [N, K] copy of the [K, N] weight buffer `b` (appended to the weights).
  int transposedWeight(int b);
  llvm::Expected<int> bufferOf(Operation *user, Value v);
  llvm::Expected<int> newArena(Operation *op, Value result);
  /// A KV-cache model also returns `next_token` [batch, seq] (i32): the
  /// argmax of its logits, so greedy decoding reads back ids only.
  llvm::Error addGreedyOutput();
  llvm::Error lowerOp(Operation *op);
  llvm::Error lowerElementwise(Operation *op, StringRef name);
  llvm::Error lowerMovement(Operation *op);
  llvm::Error lowerTransformer(Operation *op);
  /// A kernel writing all of buffer `out` contiguously.
  ElementwiseKernel kernelFor(int out) const {
    ElementwiseKernel k;
    k.dims = program.buffers[out].dims;
    k.out = out;
    k.outStrides = contiguousStrides(k.dims);
    return k;
  }
  /// A load of buffer `b` (strides to be set by the caller).
  ExprNode loadOf(int b) const {
    ExprNode n;
    n.kind = ExprNode::Kind::Load;
    n.type = program.buffers[b].dtype;
    n.buffer = b;
    return n;
  }
  /// Launches `to = cast(from)` elementwise (same dims).
  void convertKernel(int from, int to, const std::string &what);
  /// The Hopper (TMA + wgmma) linear for an [M, K] x [N, K] product at the
  /// bound row count: its column tile (0 when it does not apply) and the
  /// blocks of a cluster that split K (1: no split).
  struct HopperTile {
    int columns = 0;
    int splits = 1;
    bool pingpong = false; // persistent, one block an SM, 128 columns
  };
  HopperTile hopperLinearTile(int x, std::optional<int64_t> mBound, int64_t n,
                              int64_t k, bool fp32Output,
                              bool activationNext) const;
  /// Whether buffer `b` starts 16-byte aligned (TMA needs it).
  bool aligned16(int b) const;

  // Expression building.
  llvm::Expected<int> leaf(ElementwiseKernel &k, Operation *user, Value v,
                           const Dims &outDims);
  static int addNode(ElementwiseKernel &k, ExprNode n) {
    k.nodes.push_back(std::move(n));
    return int(k.nodes.size() - 1);
  }
  static int opNode(ElementwiseKernel &k, const std::string &name, DType type,
                    llvm::ArrayRef<int> operands) {
    ExprNode n;
    n.kind = ExprNode::Kind::Op;
    n.op = name;
    n.type = type;
    n.operands.assign(operands.begin(), operands.end());
    return addNode(k, std::move(n));
  }
  void addElementwiseLaunch(ElementwiseKernel k, const std::string &what);
};

llvm::Expected<int> Lowering::weightBuffer(ConstantOp c, DType dtype) {
  ref::Tensor t = ref::tensorFromAttr(c.getValue());
  Buffer b;
  b.kind = Buffer::Kind::Weight;
  b.dtype = dtype;
  for (int64_t d : t.shape)
    b.dims.push_back(SymExpr::constant(d));
  if (auto name = dyn_cast<NameLoc>(c->getLoc()))
    b.name = name.getName().str();
  else
    b.name = "constant";
  std::vector<uint8_t> &w = program.weights;
  w.resize((w.size() + 255) / 256 * 256);
  b.weightOffset = w.size();
  int64_t n = t.numel(), bytes = dtypeBytes(dtype);
  w.resize(w.size() + n * bytes);
  uint8_t *dst = w.data() + b.weightOffset;
  for (int64_t i = 0; i < n; ++i) {
    switch (dtype) {
    case DType::F32: {
      float f = float(t.at(i));
      std::memcpy(dst + 4 * i, &f, 4);
      break;
    }
    case DType::F16: {
      uint16_t h = ref::floatToHalf(float(t.at(i)));
      std::memcpy(dst + 2 * i, &h, 2);
      break;
    }
    case DType::BF16: {
      uint16_t h = ref::floatToBFloat16(float(t.at(i)));
      std::memcpy(dst + 2 * i, &h, 2);
      break;
    }
    case DType::I64: {
      int64_t v = t.ints[i];
      std::memcpy(dst + 8 * i, &v, 8);
      break;
    }
    case DType::I32: {
      int32_t v = int32_t(t.ints[i]);
      std::memcpy(dst + 4 * i, &v, 4);
      break;
    }
    default:
      dst[i] = uint8_t(t.ints[i]);
    }
  }
  return program.addBuffer(std::move(b));
}

bool Lowering::aligned16(int b) const {
  std::optional<int64_t> offset = program.rootElementOffset(b);
  return offset && *offset * dtypeBytes(program.buffers[b].dtype) % 16 == 0;
}

Lowering::HopperTile Lowering::hopperLinearTile(int x,
                                                std::optional<int64_t> mBound,
                                                int64_t n, int64_t k,
                                                bool fp32Output,
                                                bool activationNext) const {
  llvm::StringRef target = program.options.target;
  if (!(target == "sm_90" || target == "sm_90a") || !mBound || k % 8 != 0 ||
      !aligned16(x))
    return {};
  // One wave of tiles runs at once on the 132 SMs of an H100/H200: take the
  // column tile whose waves cost least, a tile costing its columns plus a
  // fixed 32 for filling the pipeline and the epilogue (this ranks the
  // tiles as measured in bench/results/gemm-wgmma-tma-*). The persistent
  // ping-pong instance (128 columns, N even: it stores column pairs as one
  // access) fills its pipeline once a block and runs one consumer's
  // epilogue under the other's products: its blocks' tiles cost 120 each
  // and the last epilogue 32 (gemm_wgmma_bench on the H200, BERT 32x128:
  // ~7 us a 128x128x768 tile against 12-14 us a wave of 128x192 ones;
  // bench/results/gemm-wgmma-pingpong-h200-2026-12-03.md). That holds for
  // short K only, where filling pipelines and epilogues weigh: at K up to
  // 1024 (at 4096^3 the 128x256 tiles are faster: 205.8 us vs 225.5). It has
  // no activation: a linear whose activation the epilogue folds in takes a
  // cooperative tile (BERT's fc1+gelu: the ping-pong one's unrolled GELU
  // missed the instruction caches, 73-75 us a launch against 68.9). Below
  // half a wave, 128x128 tiles split K over a cluster of 2, 4 or 8 blocks (the
  // fewest that reach half a wave, each block keeping at least 2 k-tiles of 64,
  // else the most that keep them, if that makes 24 blocks or more);
  // otherwise the split-K mma.sync path keeps more SMs busy.
  constexpr int64_t kSMs = kHopperSMs;
  int64_t rowTiles = (*mBound + 127) / 128;
  HopperTile best;
  int64_t bestCost = 0;
  for (int bn : {256, 192, 128}) {
    int64_t tiles = rowTiles * ((n + bn - 1) / bn);
    int64_t waves = (tiles + kSMs - 1) / kSMs;
    if (tiles < kSMs / 2)
      continue;
    for (bool pingpong : {false, true}) {
      if (pingpong &&
          (bn != 128 || tiles < kSMs || n % 2 || k > 1024 || activationNext))
        continue;
      int64_t cost = pingpong ? waves * 120 + 32 : waves * (bn + 32);
      if (!best.columns || cost < bestCost) {
        best = {bn, 1, pingpong};
        bestCost = cost;
      }
    }
  }
  if (best.columns || fp32Output)
    return best;
  int64_t tiles = rowTiles * ((n + 127) / 128), kTiles = (k + 63) / 64;
  for (int splits : {2, 4, 8})
    if (tiles * splits >= kSMs / 2 && kTiles >= 2 * splits)
      return {128, splits};
  // No split reaches half a wave: the largest one that keeps 2 k-tiles a
  // block, from 24 blocks up (BERT-base at 128 rows: 6 tiles split 4 ways
  // take 11.2 us where the mma.sync split-K and its reduction take ~17,
  // 128x768x3072 split 8 ways 12.2 us; gemm-wgmma-split-h200-2026-12-03).
  for (int splits : {8, 4, 2})
    if (tiles * splits >= 24 && kTiles >= 2 * splits)
      return {128, splits};
  return best;
}

int Lowering::transposedWeight(int b) {
  Buffer src = program.buffers[b];
  int64_t rows = *src.dims[0].getConstant(), cols = *src.dims[1].getConstant(),
          elem = dtypeBytes(src.dtype);
  std::vector<uint8_t> &w = program.weights;
  w.resize((w.size() + 255) / 256 * 256);
  uint64_t offset = w.size();
  w.resize(w.size() + rows * cols * elem);
  const uint8_t *from = w.data() + src.weightOffset;
  uint8_t *to = w.data() + offset;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(to + (c * rows + r) * elem, from + (r * cols + c) * elem,
                  elem);
  Buffer t = src;
  t.dims = {src.dims[1], src.dims[0]};
  t.weightOffset = offset;
  t.name = src.name + ".T";
  return program.addBuffer(std::move(t));
}

llvm::Expected<int> Lowering::bufferOf(Operation *user, Value v) {
  auto it = buffers.find(v);
  if (it != buffers.end())
    return it->second;
  if (auto c = v.getDefiningOp<ConstantOp>()) {
    auto dtype = mapType(c.getValue().getElementType());
    if (!dtype)
      return fail(user, "constant of an element type without GPU support");
    auto b = weightBuffer(c, *dtype);
    if (b)
      buffers[v] = *b;
    return b;
  }
  if (v.getDefiningOp<SymTensorOp>()) {
    // A runtime shape used as data: computed by a small kernel of params.
    auto values = getShapeValues(v);
    Buffer b;
    b.dtype = DType::I64;
    b.dims = dimsOf(v);
    b.name = "shape";
    int id = program.addBuffer(std::move(b));
    ElementwiseKernel k = kernelFor(id);
    // Select the i-th value by comparing the coordinate (few elements).
    int result = -1;
    for (size_t i = 0; i < values->size(); ++i) {
      ExprNode p;
      p.kind = ExprNode::Kind::Param;
      p.type = DType::I64;
      p.param = (*values)[i];
      int value = addNode(k, p);
      if (result < 0) {
        result = value;
        continue;
      }
      ExprNode iota;
      iota.kind = ExprNode::Kind::Iota;
      iota.type = DType::I64;
      int coord = addNode(k, iota);
      ExprNode idx;
      idx.kind = ExprNode::Kind::Const;
      idx.type = DType::I64;
      idx.value = double(i);
      int at = addNode(k, idx);
      int eq = opNode(k, "equal", DType::Bool, {coord, at});
      result = opNode(k, "select", DType::I64, {eq, value, result});
    }
    k.root = result;
    addElementwiseLaunch(std::move(k), "sym_tensor");
    buffers[v] = id;
    return id;
  }
  return fail(user, "operand has no buffer (unsupported producer)");
}

llvm::Expected<int> Lowering::newArena(Operation *op, Value result) {
  auto dtype = mapType(getElementTypeOrSelf(result.getType()));
  if (!dtype)
    return fail(op, "result element type has no GPU support");
  Buffer b;
  b.dtype = *dtype;
  b.dims = dimsOf(result);
  if (!isa<RankedTensorType>(result.getType()))
    return fail(op, "result shape depends on tensor values (data-dependent "
                    "shapes have no GPU plan: sizes must follow from the "
                    "input shapes)");
  for (const SymExpr &d : b.dims)
    if (!d.isKnown())
      return fail(op, "result shape depends on tensor values (data-dependent "
                      "shapes have no GPU plan: sizes must follow from the "
                      "input shapes)");
  if (auto name = dyn_cast<NameLoc>(op->getLoc()))
    b.name = name.getName().str();
  else
    b.name = op->getName().stripDialect().str();
  int id = program.addBuffer(std::move(b));
  buffers[result] = id;
  return id;
}

void Lowering::addElementwiseLaunch(ElementwiseKernel k,
                                    const std::string &what) {
  Launch l;
  l.module = "generated";
  l.what = what;
  l.writes.push_back(k.out);
  for (const ExprNode &n : k.nodes) {
    if (n.buffer >= 0)
      l.reads.push_back(n.buffer);
    if (n.indexBuffer >= 0)
      l.reads.push_back(n.indexBuffer);
  }
  l.elementwise = std::move(k);
  program.launches.push_back(std::move(l));
}

void Lowering::convertKernel(int from, int to, const std::string &what) {
  ElementwiseKernel k = kernelFor(to);
  ExprNode n = loadOf(from);
  n.strides = contiguousStrides(k.dims);
  int load = addNode(k, n);
  k.root = opNode(k, "cast", program.buffers[to].dtype, {load});
  addElementwiseLaunch(std::move(k), what);
}

llvm::Expected<int> Lowering::leaf(ElementwiseKernel &k, Operation *user,
                                   Value v, const Dims &outDims) {
  // Scalars known at compile time fold into the expression.
  if (auto c = v.getDefiningOp<ConstantOp>()) {
    if (c.getValue().getNumElements() == 1) {
      ref::Tensor t = ref::tensorFromAttr(c.getValue());
      ExprNode n;
      n.kind = ExprNode::Kind::Const;
      auto dtype = mapType(c.getValue().getElementType());
      if (!dtype)
        return fail(user, "constant type without GPU support");
      n.type = *dtype;
      n.value = t.at(0);
      return addNode(k, n);
    }
  }
  if (v.getDefiningOp<SymTensorOp>()) {
    auto values = getShapeValues(v);
    if (values && values->size() == 1) {
      ExprNode n;
      n.kind = ExprNode::Kind::Param;
      n.type = DType::I64;
      n.param = (*values)[0];
      return addNode(k, n);
    }
  }
  auto b = bufferOf(user, v);
  if (!b)
    return b.takeError();
  ExprNode n;
  n.kind = ExprNode::Kind::Load;
  n.type = program.buffers[*b].dtype;
  n.buffer = *b;
  n.strides = broadcastStrides(program.buffers[*b].dims, outDims);
  return addNode(k, n);
}

/// Elementwise op names and their arity; the expression op is the same name.
const llvm::StringSet<> &unaryOps() {
  static llvm::StringSet<> ops = {
      "neg",  "abs",  "exp",  "log",   "sqrt",     "reciprocal", "sigmoid",
      "tanh", "erf",  "sin",  "cos",   "relu",     "floor",      "ceil",
      "not",  "silu", "gelu", "round", "softplus", "sign",       "identity"};
  return ops;
}
const llvm::StringSet<> &binaryOps() {
  static llvm::StringSet<> ops = {
      "add", "sub",   "mul",  "div",     "pow",           "max",
      "min", "equal", "less", "greater", "less_or_equal", "greater_or_equal",
      "and", "or",    "xor",  "mod"};
  return ops;
}

llvm::Error Lowering::lowerElementwise(Operation *op, StringRef name) {
  Value result = op->getResult(0);
  auto out = newArena(op, result);
  if (!out)
    return out.takeError();
  // Compiled to 16 bits, sums the model computes in fp32 (the residual
  // stream) stay fp32: rounding them every layer costs the most accuracy.
  if (name == "add" && isFloat(program.buffers[*out].dtype) &&
      getElementTypeOrSelf(result.getType()).isF32())
    program.buffers[*out].dtype = DType::F32;
  ElementwiseKernel k = kernelFor(*out);
  DType outType = program.buffers[*out].dtype;
  llvm::SmallVector<int, 3> operands;
  for (Value v : op->getOperands()) {
    auto n = leaf(k, op, v, k.dims);
    if (!n)
      return n.takeError();
    operands.push_back(*n);
  }
  std::string exprOp = name.str();
  if (name == "gelu" && cast<GeluOp>(op).getApproximate() == "tanh")
    exprOp = "gelu_tanh";
  if (name == "where")
    exprOp = "select";
  if (name == "cast")
    exprOp = "cast";
  if ((name == "max" || name == "min") && operands.size() == 1)
    exprOp = "identity";
  if (auto mod = dyn_cast<ModOp>(op); mod && mod.getFmod())
    exprOp = "fmod";
  if (auto glu = dyn_cast<GluOp>(op)) {
    std::string act = glu.getActivation().str();
    std::string fn = act == "silu"   ? "silu"
                     : act == "gelu" ? "gelu"
                                     : "gelu_tanh";
    int g = opNode(k, fn, outType, {operands[0]});
    k.root = opNode(k, "mul", outType, {g, operands[1]});
  } else if ((name == "max" || name == "min" || name == "add" ||
              name == "mul") &&
             operands.size() > 2) {
    int acc = operands[0];
    for (size_t i = 1; i < operands.size(); ++i)
      acc = opNode(k, exprOp, outType, {acc, operands[i]});
    k.root = acc;
  } else {
    k.root = opNode(k, exprOp, outType, operands);
  }
  addElementwiseLaunch(std::move(k), name.str());
  return llvm::Error::success();
}

llvm::Error Lowering::lowerMovement(Operation *op) {
  if (auto t = dyn_cast<TransposeOp>(op)) {
    auto in = bufferOf(op, t.getData());
    auto out = newArena(op, t.getResult());
    if (!in || !out)
      return in ? out.takeError() : in.takeError();
    Dims inDims = program.buffers[*in].dims,
         inStrides = contiguousStrides(inDims);
    size_t rank = inDims.size();
    llvm::SmallVector<int64_t> perm;
    if (auto p = t.getPerm())
      perm.assign(p->begin(), p->end());
    else
      for (size_t d = 0; d < rank; ++d)
        perm.push_back(rank - 1 - d);
    ElementwiseKernel k = kernelFor(*out);
    ExprNode n = loadOf(*in);
    for (size_t d = 0; d < rank; ++d)
      n.strides.push_back(inStrides[perm[d]]);
    k.root = addNode(k, n);
    addElementwiseLaunch(std::move(k), "transpose");
    return llvm::Error::success();
  }
  if (isa<SliceOp, SplitOp>(op)) {
    auto in = bufferOf(op, op->getOperand(0));
    if (!in)
      return in.takeError();
    Dims inDims = program.buffers[*in].dims,
         inStrides = contiguousStrides(inDims);
    int64_t rank = inDims.size();
    // Per result: start and step per axis.
    std::vector<
        std::pair<Value, llvm::SmallVector<std::pair<SymExpr, int64_t>>>>
        parts;
    if (auto s = dyn_cast<SliceOp>(op)) {
      auto starts = getShapeValues(s.getStarts());
      std::optional<llvm::SmallVector<int64_t>> axes, steps;
      if (!isa<NoneType>(s.getAxes().getType()))
        axes = getConstantInts(s.getAxes());
      if (!isa<NoneType>(s.getSteps().getType()))
        steps = getConstantInts(s.getSteps());
      if (!starts || (!axes && !isa<NoneType>(s.getAxes().getType())) ||
          (!steps && !isa<NoneType>(s.getSteps().getType())))
        return fail(op, "result shape depends on tensor values (data-dependent "
                        "shapes have no GPU plan: starts, axes and steps must "
                        "be known at compile time)");
      llvm::SmallVector<std::pair<SymExpr, int64_t>> spec(
          rank, {SymExpr::constant(0), 1});
      for (size_t i = 0; i < starts->size(); ++i) {
        int64_t axis = axes ? (*axes)[i] : int64_t(i);
        if (axis < 0)
          axis += rank;
        int64_t step = steps ? (*steps)[i] : 1;
        if (step <= 0)
          return fail(op, "negative slice steps have no GPU kernel yet");
        SymExpr start = (*starts)[i];
        if (auto c = start.getConstant()) {
          if (*c < 0)
            start = inDims[axis] + start;
          else if (auto dim = inDims[axis].getConstant(); dim && *c > *dim)
            start = SymExpr::constant(*dim);
        }
        spec[axis] = {start, step};
      }
      parts.push_back({s.getResult(), spec});
    } else {
      auto split = cast<SplitOp>(op);
      int64_t axis =
          split.getAxis() < 0 ? split.getAxis() + rank : split.getAxis();
      SymExpr offset = SymExpr::constant(0);
      for (Value r : split.getResults()) {
        llvm::SmallVector<std::pair<SymExpr, int64_t>> spec(
            rank, {SymExpr::constant(0), 1});
        spec[axis] = {offset, 1};
        offset = offset + dimsOf(r)[axis];
        parts.push_back({r, spec});
      }
    }
    for (auto &[result, spec] : parts) {
      auto out = newArena(op, result);
      if (!out)
        return out.takeError();
      ElementwiseKernel k = kernelFor(*out);
      ExprNode n = loadOf(*in);
      for (int64_t d = 0; d < rank; ++d) {
        n.base = n.base + spec[d].first * inStrides[d];
        n.strides.push_back(inStrides[d] * SymExpr::constant(spec[d].second));
      }
      k.root = addNode(k, n);
      addElementwiseLaunch(std::move(k), op->getName().stripDialect().str());
    }
    return llvm::Error::success();
  }
  if (auto e = dyn_cast<ExpandOp>(op)) {
    auto out = newArena(op, e.getResult());
    if (!out)
      return out.takeError();
    ElementwiseKernel k = kernelFor(*out);
    auto n = leaf(k, op, e.getInput(), k.dims);
    if (!n)
      return n.takeError();
    k.root = *n;
    addElementwiseLaunch(std::move(k), "expand");
    return llvm::Error::success();
  }
  if (auto c = dyn_cast<ConcatOp>(op)) {
    auto out = newArena(op, c.getResult());
    if (!out)
      return out.takeError();
    Dims outDims = program.buffers[*out].dims,
         outStrides = contiguousStrides(outDims);
    int64_t rank = outDims.size();
    int64_t axis = c.getAxis() < 0 ? c.getAxis() + rank : c.getAxis();
    SymExpr offset = SymExpr::constant(0);
    for (Value v : c.getInputs()) {
      Dims inDims = dimsOf(v);
      ElementwiseKernel k;
      k.dims = inDims;
      k.out = *out;
      k.outStrides = outStrides;
      k.outBase = offset * outStrides[axis];
      auto n = leaf(k, op, v, inDims);
      if (!n)
        return n.takeError();
      k.root = *n;
      addElementwiseLaunch(std::move(k), "concat");
      offset = offset + inDims[axis];
    }
    return llvm::Error::success();
  }
  if (isa<GatherOp, GatherElementsOp, EmbeddingOp>(op)) {
    bool elements = isa<GatherElementsOp>(op);
    Value data = op->getOperand(0), indices = op->getOperand(1);
    int64_t axis = 0;
    if (auto g = dyn_cast<GatherOp>(op))
      axis = g.getAxis();
    if (auto g = dyn_cast<GatherElementsOp>(op))
      axis = g.getAxis();
    auto in = bufferOf(op, data);
    auto idx = bufferOf(op, indices);
    auto out = newArena(op, op->getResult(0));
    if (!in || !idx || !out)
      return !in ? in.takeError() : !idx ? idx.takeError() : out.takeError();
    Dims inDims = program.buffers[*in].dims,
         inStrides = contiguousStrides(inDims);
    Dims idxDims = program.buffers[*idx].dims,
         idxStrides = contiguousStrides(idxDims);
    int64_t rank = inDims.size(), idxRank = idxDims.size();
    if (axis < 0)
      axis += rank;
    ElementwiseKernel k = kernelFor(*out);
    ExprNode n = loadOf(*in);
    n.indexBuffer = *idx;
    n.gatherStride = inStrides[axis];
    n.gatherExtent = inDims[axis];
    if (elements) {
      for (int64_t d = 0; d < rank; ++d)
        n.strides.push_back(d == axis ? SymExpr::constant(0) : inStrides[d]);
      n.indexStrides = idxStrides;
    } else {
      for (int64_t d = 0; d < axis; ++d) {
        n.strides.push_back(inStrides[d]);
        n.indexStrides.push_back(SymExpr::constant(0));
      }
      for (int64_t d = 0; d < idxRank; ++d) {
        n.strides.push_back(SymExpr::constant(0));
        n.indexStrides.push_back(idxStrides[d]);
      }
      for (int64_t d = axis + 1; d < rank; ++d) {
        n.strides.push_back(inStrides[d]);
        n.indexStrides.push_back(SymExpr::constant(0));
      }
    }
    k.root = addNode(k, n);
    addElementwiseLaunch(std::move(k), op->getName().stripDialect().str());
    return llvm::Error::success();
  }
  if (auto r = dyn_cast<RangeOp>(op)) {
    auto out = newArena(op, r.getResult());
    if (!out)
      return out.takeError();
    ElementwiseKernel k = kernelFor(*out);
    DType type = program.buffers[*out].dtype;
    auto start = leaf(k, op, r.getStart(), {});
    auto delta = leaf(k, op, r.getDelta(), {});
    if (!start || !delta)
      return start ? delta.takeError() : start.takeError();
    ExprNode iota;
    iota.kind = ExprNode::Kind::Iota;
    iota.type = DType::I64;
    int i = addNode(k, iota);
    int ic = opNode(k, "cast", type, {i});
    int step = opNode(k, "mul", type, {ic, *delta});
    k.root = opNode(k, "add", type, {*start, step});
    addElementwiseLaunch(std::move(k), "range");
    return llvm::Error::success();
  }
  return fail(op, "has no GPU kernel yet");
}

llvm::Error Lowering::lowerTransformer(Operation *op) {
  auto in = [&](unsigned i) -> llvm::Expected<int> {
    Value v = op->getOperand(i);
    if (isa<NoneType>(v.getType()))
      return -1;
    return bufferOf(op, v);
  };
  auto out = newArena(op, op->getResult(0));
  if (!out)
    return out.takeError();
  DType dtype = program.buffers[*out].dtype;
  std::string suffix = dtype == DType::F32    ? "f32"
                       : dtype == DType::F16  ? "f16"
                       : dtype == DType::BF16 ? "bf16"
                                              : "";
  if (suffix.empty())
    return fail(op, "needs a float result");
  Launch l;
  l.module = "templates";
  l.what = op->getName().stripDialect().str();
  llvm::SmallVector<int> operands;
  bool normInF32 = false;
  for (unsigned i = 0; i < op->getNumOperands(); ++i) {
    auto b = in(i);
    if (!b)
      return b.takeError();
    // Masks keep their type; paged attention's pages are state (updated
    // in place, never converted) and its tables integers.
    bool mask = (isa<AttentionOp>(op) && i == 3) ||
                (isa<PagedAttentionOp>(op) && i >= 3);
    if (*b >= 0 && !mask && isFloat(program.buffers[*b].dtype) &&
        program.buffers[*b].dtype != dtype) {
      if (i == 0 && isa<RmsNormOp, LayerNormOp>(op) &&
          program.buffers[*b].dtype == DType::F32) {
        normInF32 = true; // the norm reads fp32 itself
      } else {
        // The template computes in one dtype: convert the operand first.
        Buffer c;
        c.dtype = dtype;
        c.dims = program.buffers[*b].dims;
        c.name = program.buffers[*b].name + ".cast";
        int to = program.addBuffer(std::move(c));
        convertKernel(*b, to, "cast");
        *b = to;
      }
    }
    operands.push_back(*b);
    if (*b >= 0)
      l.reads.push_back(*b);
  }
  l.writes.push_back(*out);
  auto arg = [&](int b) { return b < 0 ? Arg::null() : Arg::buf(b); };
  Dims outDims = program.buffers[*out].dims;
  SymExpr total = program.buffers[*out].numel();
  int64_t elem = dtypeBytes(dtype);

  if (auto lin = dyn_cast<LinearOp>(op)) {
    // A model output the model declares fp32 (logits) stays fp32 when the
    // model is compiled to 16 bits: rounding logits to bf16 flips argmaxes.
    Value result = op->getResult(0);
    bool fp32Output =
        dtype != DType::F32 && getElementTypeOrSelf(result.getType()).isF32() &&
        llvm::all_of(result.getUsers(),
                     [](Operation *u) { return isa<func::ReturnOp>(u); }) &&
        !result.use_empty();
    if (fp32Output)
      program.buffers[*out].dtype = DType::F32;
    Dims xDims = program.buffers[operands[0]].dims;
    Dims wDims = program.buffers[operands[1]].dims;
    bool t = lin.getTransposeWeight();
    SymExpr k = xDims.back(), n = t ? wDims[0] : wDims[1];
    SymExpr m = total.exactDiv(n);
    if (!m.isKnown())
      return fail(op, "cannot derive the row count symbolically");
    const Buffer &wb = program.buffers[operands[1]];
    bool tensorCores = (dtype == DType::F16 || dtype == DType::BF16) &&
                       wb.kind == Buffer::Kind::Weight &&
                       program.buffers[operands[0]].dtype == dtype &&
                       k.getConstant() && *k.getConstant() % 32 == 0 &&
                       n.getConstant();
    if (tensorCores) {
      // Tensor cores read W as [N, K]: store a transposed copy of a [K, N]
      // constant once, at compile time.
      int w = operands[1];
      if (!t)
        w = transposedWeight(operands[1]);
      auto mBound = m.evaluate(program.options.bounds);
      int64_t kVal = *k.getConstant();
      HopperTile hopper = hopperLinearTile(
          operands[0], mBound, *n.getConstant(), kVal, fp32Output,
          !program.options.separateHopperActivation &&
              feedsFoldedActivation(result));
      if (int bn = hopper.columns) {
        // The copy engine reads x and W through tensor maps: 128 x 64 boxes
        // of x, bn x 64 of W; as many stages as fit in shared memory.
        int64_t stages = bn == 256 ? 4 : bn == 192 ? 5 : 6;
        std::string split =
            hopper.splits > 1 ? "s" + std::to_string(hopper.splits) : "";
        l.function = std::string("kuai_linear_wg") +
                     (hopper.pingpong ? "pp" : "") + std::to_string(bn) +
                     split + "_" + suffix + (fp32Output ? "_out_f32" : "");
        l.grid[0] = {n, bn};
        l.grid[1] = {m, 128};
        l.grid[2] = {SymExpr::constant(hopper.splits), 1};
        if (hopper.pingpong) {
          // A block an SM; blocks beyond the tiles at run time return.
          l.grid[0] = {SymExpr::constant(kHopperSMs), 1};
          l.grid[1] = GridDim();
        }
        if (hopper.splits > 1)
          // Not "split-K": addSmallRowVariants adds the decode variants
          // to this launch like to any unsplit linear.
          l.what = "linear (K over a cluster of " +
                   std::to_string(hopper.splits) + ")";
        l.block[0] = 384;
        l.sharedBytes = stages * (128 + bn) * 64 * 2 + 1024 + 16 * stages;
        if (hopper.pingpong)
          l.sharedBytes += 2 * 128 * 4; // the two consumers' tile biases
        l.reads[1] = w;
        l.args = {Arg::tensorMap(operands[0], m, kVal, 128),
                  Arg::tensorMap(w, n, kVal, bn),
                  arg(operands[2]),
                  Arg::null(),
                  Arg::buf(*out),
                  Arg::i64(m),
                  Arg::i64(n),
                  Arg::i64(k),
                  Arg::i32(0)};
      } else {
        // Big tiles when the bound row count fills the GPU with them.
        int tile =
            mBound && *mBound >= 2048 && *n.getConstant() >= 512 ? 128 : 64;
        l.function = "kuai_linear_tc" + std::to_string(tile) + "_" + suffix +
                     (fp32Output ? "_out_f32" : "");
        l.grid[0] = {n, tile};
        l.grid[1] = {m, tile};
        l.block[0] = tile == 128 ? 256 : 128;
        l.sharedBytes = 4 * (2 * tile) * 40 * 2; // 4 stages of A and W tiles
        l.reads[1] = w;
        l.args = {arg(operands[0]), Arg::buf(w),    arg(operands[2]),
                  Arg::null(),      Arg::buf(*out), Arg::i64(m),
                  Arg::i64(n),      Arg::i64(k),    Arg::i32(0)};
        // Split-K when the tiles at the bound row count cannot fill the GPU
        // (132 SMs on an H100; two blocks each): partial sums in fp32 per
        // split, then a reduction that applies the epilogue.
        int64_t kTiles = kVal / 32, nVal = *n.getConstant();
        int64_t blocks =
            mBound ? ((*mBound + 63) / 64) * ((nVal + 63) / 64) : 0;
        int64_t splits = tile == 64 && blocks > 0
                             ? std::min<int64_t>(
                                   {(264 + blocks - 1) / blocks, kTiles / 4, 8})
                             : 1;
        if (splits >= 2) {
          Buffer ws;
          ws.dtype = DType::F32;
          ws.dims = {SymExpr::constant(splits), m, n};
          ws.name = program.buffers[*out].name + ".splitk";
          int wsb = program.addBuffer(std::move(ws));
          Launch partial = l;
          partial.function = "kuai_linear_tc64_" + suffix + "_out_f32";
          partial.grid[2] = {SymExpr::constant(splits), 1};
          partial.args = {arg(operands[0]), Arg::buf(w),   Arg::null(),
                          Arg::null(),      Arg::buf(wsb), Arg::i64(m),
                          Arg::i64(n),      Arg::i64(k),   Arg::i32(0)};
          partial.reads = {operands[0], w};
          partial.writes = {wsb};
          partial.what = "linear (split-K " + std::to_string(splits) + ")";
          partial.flops = SymExpr::constant(2) * m * n * k;
          partial.bytes = (m * k + k * n) * SymExpr::constant(elem) +
                          SymExpr::constant(4 * splits) * m * n;
          program.launches.push_back(std::move(partial));
          l.function = "kuai_linear_tc_reduce_" + suffix +
                       (fp32Output ? "_out_f32" : "");
          l.grid[0] = {m * n, 256};
          l.grid[1] = GridDim();
          l.block[0] = 256;
          l.sharedBytes = 0;
          l.args = {Arg::buf(wsb),    Arg::null(),
                    arg(operands[2]), Arg::null(),
                    Arg::buf(*out),   Arg::i64(m),
                    Arg::i64(n),      Arg::i64(SymExpr::constant(splits)),
                    Arg::i32(0)};
          l.reads = {wsb};
          if (operands[2] >= 0)
            l.reads.push_back(operands[2]);
          l.what = "linear (split-K reduce)";
          l.flops = SymExpr::constant(0);
          l.bytes = SymExpr::constant(4 * splits) * m * n +
                    m * n * SymExpr::constant(elem);
          program.launches.push_back(std::move(l));
          return llvm::Error::success();
        }
      }
    } else {
      l.function = "kuai_linear_" + suffix + (fp32Output ? "_out_f32" : "");
      l.grid[0] = {n, 64};
      l.grid[1] = {m, 64};
      l.block[0] = 256;
      l.args = {arg(operands[0]), arg(operands[1]), arg(operands[2]),
                Arg::null(),      Arg::buf(*out),   Arg::i64(m),
                Arg::i64(n),      Arg::i64(k),      Arg::i32(t ? 1 : 0)};
    }
    l.flops = SymExpr::constant(2) * m * n * k;
    l.bytes = (m * k + k * n + m * n) * SymExpr::constant(elem);
  } else if (isa<RmsNormOp, LayerNormOp>(op)) {
    bool rms = isa<RmsNormOp>(op);
    SymExpr inner = outDims.back();
    float eps;
    int weight = operands[1], bias = -1;
    if (auto ln = dyn_cast<LayerNormOp>(op)) {
      int64_t rank = outDims.size(),
              axis = ln.getAxis() < 0 ? ln.getAxis() + rank : ln.getAxis();
      inner = SymExpr::constant(1);
      for (int64_t d = axis; d < rank; ++d)
        inner = inner * outDims[d];
      eps = ln.getEpsilon().convertToFloat();
      bias = operands[2];
    } else {
      eps = cast<RmsNormOp>(op).getEpsilon().convertToFloat();
    }
    SymExpr rows = total.exactDiv(inner);
    // Rows of up to 1024 elements: a warp per row, the row in registers
    // (norm_rows_warp), with 16-byte accesses when rows are multiples of 8
    // elements and every operand starts 16-byte aligned (norm_rows_vec);
    // longer rows: a block per row.
    std::optional<int64_t> innerVal = inner.getConstant();
    bool vectorized = innerVal && *innerVal % 8 == 0 &&
                      aligned16(operands[0]) &&
                      (weight < 0 || aligned16(weight)) &&
                      (bias < 0 || aligned16(bias)) && aligned16(*out);
    if (innerVal && *innerVal <= 1024) {
      l.function =
          std::string(vectorized ? "kuai_norm_vec_" : "kuai_norm_warp_") +
          suffix + (normInF32 ? "_in_f32" : "");
      l.grid[0] = {rows, 8};
      l.block[0] = 256;
      l.args = {arg(operands[0]), arg(weight),          arg(bias),
                Arg::buf(*out),   Arg::i64(rows),       Arg::i64(inner),
                Arg::f(eps),      Arg::i32(rms ? 1 : 0)};
    } else {
      l.function = "kuai_norm_" + suffix + (normInF32 ? "_in_f32" : "");
      l.grid[0] = {rows, 1};
      l.block[0] = 256;
      l.args = {arg(operands[0]),     arg(weight),     arg(bias),
                Arg::buf(*out),       Arg::i64(inner), Arg::f(eps),
                Arg::i32(rms ? 1 : 0)};
    }
    l.bytes = total * SymExpr::constant(2 * elem);
  } else if (auto rot = dyn_cast<RotaryOp>(op)) {
    auto freq = rot.getInvFreq();
    if (!freq)
      return fail(op, "rotary from cos/sin tables has no GPU kernel yet "
                      "(only inv_freq)");
    Buffer f;
    f.kind = Buffer::Kind::Weight;
    f.dtype = DType::F32;
    f.dims = {SymExpr::constant(int64_t(freq->size()))};
    f.name = "inv_freq";
    std::vector<uint8_t> &w = program.weights;
    w.resize((w.size() + 255) / 256 * 256);
    f.weightOffset = w.size();
    w.resize(w.size() + 4 * freq->size());
    std::memcpy(w.data() + f.weightOffset, freq->data(), 4 * freq->size());
    int fb = program.addBuffer(std::move(f));
    l.reads.push_back(fb);
    int64_t rank = outDims.size();
    SymExpr d = outDims.back();
    SymExpr rd = rot.getRotaryDim() ? SymExpr::constant(rot.getRotaryDim()) : d;
    l.function = "kuai_rotary_" + suffix;
    l.grid[0] = {total, 256};
    l.block[0] = 256;
    int offset = operands.size() > 3 ? operands[3] : -1;
    if (offset >= 0 && program.buffers[offset].dtype != DType::I32)
      return fail(op, "position_offset must be i32 on the GPU");
    l.args = {arg(operands[0]),
              Arg::buf(*out),
              Arg::buf(fb),
              Arg::i64(total),
              Arg::i64(outDims[rank - 2]),
              Arg::i64(d),
              Arg::i64(rd),
              Arg::i32(rot.getInterleaved() ? 1 : 0),
              arg(offset),
              Arg::i64(total.exactDiv(outDims[0] * d))};
    l.bytes = total * SymExpr::constant(2 * elem);
  } else if (auto att = dyn_cast<AttentionOp>(op)) {
    Dims q = program.buffers[operands[0]].dims,
         k = program.buffers[operands[1]].dims,
         v = program.buffers[operands[2]].dims;
    if (q.size() != 4 || k.size() != 4 || v.size() != 4)
      return fail(op, "needs rank-4 query, key and value");
    if (auto d = q[3].getConstant(); !d || *d > 256)
      return fail(op, "head dims above 256 or unknown have no GPU kernel");
    for (int i = 0; i < 3; ++i)
      if (program.buffers[operands[i]].dtype != dtype)
        return fail(op, "query, key and value must share the result dtype");
    StringRef kind = att.getMaskKind();
    int64_t maskKind = kind == "none"             ? 0
                       : kind == "causal"         ? 1
                       : kind == "sliding_window" ? 2
                       : kind == "padding"        ? 3
                       : kind == "causal_padding" ? 4
                                                  : 5;
    int mask = operands.size() > 3 ? operands[3] : -1;
    int64_t maskType = 0;
    Dims maskStrides(4, SymExpr::constant(0));
    if (mask >= 0) {
      DType mt = program.buffers[mask].dtype;
      maskType = mt == DType::I64    ? 0
                 : mt == DType::I32  ? 1
                 : mt == DType::F32  ? 3
                 : mt == DType::F16  ? 4
                 : mt == DType::BF16 ? 5
                                     : 2;
      if (maskKind == 5)
        maskStrides = broadcastStrides(program.buffers[mask].dims,
                                       {q[0], q[1], q[2], k[2]});
    }
    Dims qs = contiguousStrides(q), ks = contiguousStrides(k),
         vs = contiguousStrides(v), os = contiguousStrides(outDims);
    llvm::SmallVector<SymExpr> pack = {q[0], q[1], k[1], q[2],
                                       k[2], q[3], v[3]};
    for (const Dims *s : {&qs, &ks, &vs, &os})
      pack.append(s->begin(), s->begin() + 3);
    pack.append(maskStrides.begin(), maskStrides.end());
    pack.push_back(SymExpr::constant(att.getWindow()));
    pack.push_back(SymExpr::constant(maskKind));
    pack.push_back(SymExpr::constant(maskType));
    Arg shape;
    shape.kind = Arg::Kind::Pack;
    shape.pack = pack;
    // Head dims up to 128: the tiled kernel (8 rows per block share each
    // tile of keys); above: one warp per row.
    bool tiled = *q[3].getConstant() <= 128 && v[3].getConstant() &&
                 *v[3].getConstant() <= 128;
    // Tensor cores for fp16/bf16 with head dims 32, 64, 128 and every mask
    // kind but an additive bias (rows of 16-byte multiples).
    int64_t hd = *q[3].getConstant();
    bool tensorCores = (dtype == DType::F16 || dtype == DType::BF16) &&
                       maskKind != 5 && v[3] == q[3] &&
                       (hd == 32 || hd == 64 || hd == 128);
    if (tensorCores) {
      l.function = "kuai_attention_tc" + std::to_string(hd) + "_" + suffix;
      l.grid[0] = {q[2], 64};
      l.grid[1] = {q[0] * q[1], 1};
      l.block[0] = 128;
      l.sharedBytes = 4 * 64 * (hd + 8) * 2; // queries, 2 x (keys, values)
    } else if (tiled) {
      l.function = "kuai_attention_tiled_" + suffix;
      l.grid[0] = {q[2], 8};
      l.grid[1] = {q[0] * q[1], 1};
      l.block[0] = 256;
    } else {
      l.function = "kuai_attention_" + suffix;
      l.grid[0] = {q[0] * q[1] * q[2], 4};
      l.block[0] = 128;
    }
    l.args = {arg(operands[0]),
              arg(operands[1]),
              arg(operands[2]),
              arg(mask),
              Arg::buf(*out),
              shape,
              Arg::f(att.getScale().convertToFloat())};
    l.flops = SymExpr::constant(4) * q[0] * q[1] * q[2] * k[2] * q[3];
    l.bytes = (program.buffers[operands[0]].numel() * SymExpr::constant(2) +
               program.buffers[operands[1]].numel() +
               program.buffers[operands[2]].numel()) *
              SymExpr::constant(elem);
  } else if (auto paged = dyn_cast<PagedAttentionOp>(op)) {
    // Copies: the split workspace added below may move program.buffers.
    const Buffer qb = program.buffers[operands[0]],
                 kb = program.buffers[operands[1]],
                 vb = program.buffers[operands[2]],
                 kc = program.buffers[operands[3]],
                 tb = program.buffers[operands[5]],
                 pb = program.buffers[operands[6]];
    Dims q = qb.dims, k = kb.dims, v = vb.dims;
    if (kc.kind != Buffer::Kind::State ||
        program.buffers[operands[4]].kind != Buffer::Kind::State)
      return fail(op, "the key and value pages must be state inputs of the "
                      "model (kuai-kv-cache)");
    for (int i = 0; i < 5; ++i)
      if (program.buffers[operands[i]].dtype != dtype)
        return fail(op, "query, key, value and their pages must share the "
                        "result dtype");
    if (tb.dtype != DType::I32 || pb.dtype != DType::I32)
      return fail(op, "block_table and past_lengths must be i32");
    auto hd = q[3].getConstant(), hv = v[3].getConstant();
    if (!hd || !hv || *hd > 256 || *hv > 256)
      return fail(op, "head dims above 256 or unknown have no GPU kernel");
    Dims qs = contiguousStrides(q), ks = contiguousStrides(k),
         vs = contiguousStrides(v), os = contiguousStrides(outDims);
    llvm::SmallVector<SymExpr> pack = {q[0], q[1], k[1],       q[2],
                                       q[3], v[3], kc.dims[2], tb.dims[1]};
    for (const Dims *st : {&qs, &ks, &vs, &os})
      pack.append(st->begin(), st->begin() + 3);
    pack.push_back(SymExpr::constant(
        paged.getMaskKind() == "sliding_window" ? paged.getWindow() : 0));
    Arg shape;
    shape.kind = Arg::Kind::Pack;
    shape.pack = pack;
    // The chunk's keys and values into their pages, then attention.
    Launch append;
    append.module = "templates";
    append.what = "kv_append";
    append.function = "kuai_kv_append_" + suffix;
    append.grid[0] = {
        q[0] * k[1] * q[2] * SymExpr::constant(std::max(*hd, *hv)), 256};
    append.block[0] = 256;
    append.args = {arg(operands[1]),
                   arg(operands[2]),
                   arg(operands[3]),
                   arg(operands[4]),
                   arg(operands[5]),
                   arg(operands[6]),
                   shape};
    append.reads = {operands[1], operands[2], operands[5], operands[6]};
    append.writes = {operands[3], operands[4]};
    append.bytes = (kb.numel() + vb.numel()) * SymExpr::constant(2 * elem);
    program.launches.push_back(std::move(append));
    buffers[op->getResult(1)] = operands[3];
    buffers[op->getResult(2)] = operands[4];
    // Decode steps (one query per sequence): positions split over warps of
    // 32 keys each (flash-decoding), then the splits are combined; longer
    // chunks (prefill): a warp per query row. A symbolic chunk length gets
    // both, guarded by `when`.
    SymExpr one = SymExpr::constant(1);
    auto chunk = q[2].getConstant();
    bool mayDecode = !chunk || *chunk == 1, mayPrefill = !chunk || *chunk > 1;
    Arg scale = Arg::f(paged.getScale().convertToFloat());
    if (mayDecode) {
      auto qHeads = q[1].getConstant(), kvHeads = k[1].getConstant();
      if (!qHeads || !kvHeads || *kvHeads <= 0 || *qHeads % *kvHeads)
        return fail(op, "decode attention needs constant head counts, the "
                        "query heads a multiple of the key/value heads");
      int64_t headChunks = (*qHeads / *kvHeads + 7) / 8;
      auto page = kc.dims[2].getConstant();
      if (!page || *page <= 0)
        return fail(op, "decode attention needs a constant page size");
      int64_t pagesPerSplit = std::max<int64_t>(1, 32 / *page);
      SymExpr rows = q[0] * q[1];
      Buffer ws;
      ws.dtype = DType::F32;
      ws.dims = {tb.dims[1], rows, v[3] + SymExpr::constant(2)};
      ws.name = program.buffers[*out].name + ".splits";
      int wsb = program.addBuffer(std::move(ws));
      SymExpr decode = mayPrefill ? SymExpr::constant(2) - q[2] : one;
      Launch split;
      split.module = "templates";
      split.what = "paged_attention (split)";
      split.function = "kuai_paged_attention_split_" + suffix;
      // A block per (sequence, kv head, chunk of up to 8 query heads of
      // its group) and split: PAGED_SPLIT_HEADS and PAGED_SPLIT_THREADS of
      // paged_attention.cu.
      split.grid[0] = {q[0] * k[1] * SymExpr::constant(headChunks), 1};
      split.grid[1] = {tb.dims[1], pagesPerSplit};
      split.block[0] = 128;
      split.args = {arg(operands[0]),
                    arg(operands[3]),
                    arg(operands[4]),
                    arg(operands[5]),
                    arg(operands[6]),
                    Arg::buf(wsb),
                    shape,
                    scale,
                    Arg::i64(SymExpr::constant(pagesPerSplit))};
      split.reads = {operands[0], operands[3], operands[4], operands[5],
                     operands[6]};
      split.writes = {wsb};
      split.when = decode;
      program.launches.push_back(std::move(split));
      Launch combine;
      combine.module = "templates";
      combine.what = "paged_attention (combine)";
      combine.function = "kuai_paged_attention_combine_" + suffix;
      combine.grid[0] = {rows, 4};
      combine.block[0] = 128;
      combine.args = {Arg::buf(wsb), Arg::buf(*out), shape,
                      Arg::i64(SymExpr::constant(pagesPerSplit))};
      combine.reads = {wsb};
      combine.writes = {*out};
      combine.when = decode;
      if (mayPrefill)
        program.launches.push_back(std::move(combine));
      else
        l = std::move(combine); // pushed below
    }
    if (mayPrefill) {
      l.function = "kuai_paged_attention_" + suffix;
      l.grid[0] = {q[0] * q[1] * q[2], 4};
      l.block[0] = 128;
      if (mayDecode)
        l.when = q[2] - one;
      l.args = {arg(operands[0]),
                arg(operands[3]),
                arg(operands[4]),
                arg(operands[5]),
                arg(operands[6]),
                Arg::buf(*out),
                shape,
                scale};
    }
    // The cached length is a value, not a size: the estimate counts the
    // query and output only.
    l.bytes = (qb.numel() * SymExpr::constant(2)) * SymExpr::constant(elem);
  } else if (auto moe = dyn_cast<MoeOp>(op)) {
    int64_t experts = (op->getNumOperands() - 2) / 3;
    if (experts < 1 || experts > 64 || moe.getTopK() > 16)
      return fail(op, "needs 1..64 experts and top_k <= 16");
    // Pack each kind of expert weight contiguously: [E][...].
    int packed[3];
    Dims gDims;
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<uint8_t> &w = program.weights;
      w.resize((w.size() + 255) / 256 * 256);
      uint64_t start = w.size();
      Dims first;
      for (int64_t e = 0; e < experts; ++e) {
        int b = operands[2 + 3 * e + kind];
        const Buffer &src = program.buffers[b];
        if (src.kind != Buffer::Kind::Weight)
          return fail(op, "expert weights must be constants");
        if (e == 0)
          first = src.dims;
        else if (src.dims != first)
          return fail(op, "experts of different shapes");
        uint64_t bytes = *src.numel().getConstant() * dtypeBytes(src.dtype);
        uint64_t from = src.weightOffset;
        w.resize(w.size() + bytes);
        std::memcpy(w.data() + w.size() - bytes, w.data() + from, bytes);
      }
      if (kind == 0)
        gDims = first;
      Buffer p;
      p.kind = Buffer::Kind::Weight;
      p.dtype = dtype;
      p.dims = {SymExpr::constant(experts)};
      p.dims.append(first.begin(), first.end());
      p.name = kind == 0   ? "experts_gate"
               : kind == 1 ? "experts_up"
                           : "experts_down";
      p.weightOffset = start;
      packed[kind] = program.addBuffer(std::move(p));
      l.reads.push_back(packed[kind]);
    }
    bool et = moe.getExpertsTransposed();
    SymExpr d = outDims.back(), f = et ? gDims[0] : gDims[1];
    StringRef act = moe.getActivation();
    int64_t actCode = act == "silu" ? 0 : act == "gelu" ? 1 : 2;
    l.function = "kuai_moe_" + suffix;
    l.grid[0] = {total.exactDiv(d), 1};
    l.block[0] = 256;
    auto smem = (d * SymExpr::constant(2) + f + SymExpr::constant(experts))
                    .getConstant();
    if (!smem || *smem * 4 > 48 * 1024)
      return fail(op, "hidden sizes too large for the generic MoE kernel");
    l.sharedBytes = *smem * 4;
    l.args = {arg(operands[0]),
              arg(operands[1]),
              Arg::buf(packed[0]),
              Arg::buf(packed[1]),
              Arg::buf(packed[2]),
              Arg::buf(*out),
              Arg::i64(d),
              Arg::i64(f),
              Arg::i64(SymExpr::constant(experts)),
              Arg::i64(SymExpr::constant(moe.getTopK())),
              Arg::i32(moe.getNormalize() ? 1 : 0),
              Arg::i32(actCode),
              Arg::i32(moe.getRouterTransposed() ? 1 : 0),
              Arg::i32(et ? 1 : 0)};
  }
  program.launches.push_back(std::move(l));
  return llvm::Error::success();
}

llvm::Error Lowering::lowerOp(Operation *op) {
  if (isa<ConstantOp, NoneOp, SymTensorOp>(op))
    return llvm::Error::success(); // materialised where used as data
  if (isa<ReshapeOp, SqueezeOp, UnsqueezeOp, FlattenOp, IdentityOp>(op)) {
    auto in = bufferOf(op, op->getOperand(0));
    if (!in)
      return in.takeError();
    Buffer b;
    b.kind = Buffer::Kind::View;
    b.dtype = program.buffers[*in].dtype;
    b.dims = dimsOf(op->getResult(0));
    bool ranked = isa<RankedTensorType>(op->getResult(0).getType());
    bool known =
        llvm::all_of(b.dims, [](const SymExpr &d) { return d.isKnown(); });
    if (!ranked || !known)
      return fail(op, "result shape depends on tensor values (data-dependent "
                      "shapes have no GPU plan: sizes must follow from the "
                      "input shapes)");
    b.viewOf = *in;
    b.name = program.buffers[*in].name;
    buffers[op->getResult(0)] = program.addBuffer(std::move(b));
    return llvm::Error::success();
  }
  if (isa<LinearOp, RmsNormOp, LayerNormOp, RotaryOp, AttentionOp,
          PagedAttentionOp, MoeOp>(op))
    return lowerTransformer(op);
  StringRef name = op->getName().stripDialect();
  if (isa<GluOp, CastOp, WhereOp>(op) || unaryOps().contains(name) ||
      binaryOps().contains(name))
    return lowerElementwise(op, name);
  return lowerMovement(op);
}

llvm::Error Lowering::addGreedyOutput() {
  int logits = program.outputs.front().buffer;
  const Buffer lb = program.buffers[logits]; // a copy: addBuffer below
                                             // may move the buffers
  if (lb.dims.size() != 3 || !isFloat(lb.dtype) || !lb.dims[2].getConstant())
    return llvm::createStringError(
        "a KV-cache model's first output must be logits [batch, seq, "
        "vocab]");
  Buffer ids;
  ids.dtype = DType::I32;
  ids.dims = {lb.dims[0], lb.dims[1]};
  ids.name = "next_token";
  int id = program.addBuffer(std::move(ids));
  Launch l;
  l.module = "templates";
  l.function = std::string("kuai_argmax_") + dtypeName(lb.dtype);
  l.what = "argmax";
  l.grid[0] = {lb.dims[0] * lb.dims[1], 1};
  l.block[0] = 1024; // ARGMAX_THREADS of paged_attention.cu
  l.args = {Arg::buf(logits), Arg::buf(id), Arg::i64(lb.dims[2])};
  l.reads = {logits};
  l.writes = {id};
  l.bytes = lb.numel() * SymExpr::constant(dtypeBytes(lb.dtype));
  program.launches.push_back(std::move(l));
  // Sampling (include/kuai/sampling.h) for the sequences whose temperature
  // is above 0, from the input the runtime fills per sequence: {temperature,
  // top_k, top_p, u}.
  Buffer params;
  params.dtype = DType::F32;
  params.dims = {lb.dims[0], SymExpr::constant(4)};
  params.name = "kv.sampling";
  params.inputIndex = int(program.inputs.size());
  int paramsId = program.addBuffer(std::move(params));
  program.inputs.push_back({"kv.sampling", paramsId});
  Launch sample;
  sample.module = "templates";
  sample.function = std::string("kuai_sample_") + dtypeName(lb.dtype);
  sample.what = "sample";
  sample.grid[0] = {lb.dims[0], 1};
  sample.block[0] = 1024; // ARGMAX_THREADS
  sample.args = {Arg::buf(logits), Arg::buf(paramsId), Arg::buf(id),
                 Arg::i64(lb.dims[2]), Arg::i64(lb.dims[1])};
  sample.reads = {logits, paramsId, id};
  sample.writes = {id};
  sample.bytes =
      lb.dims[0] * SymExpr::constant(dtypeBytes(lb.dtype)) * lb.dims[2];
  program.launches.push_back(std::move(sample));
  program.buffers[id].outputIndex = int(program.outputs.size());
  program.outputs.push_back({"next_token", id});
  return llvm::Error::success();
}

llvm::Expected<KernelProgram> Lowering::run() {
  for (BlockArgument arg : func.getArguments()) {
    auto dtype = mapType(getElementTypeOrSelf(arg.getType()));
    std::string name = "input" + std::to_string(arg.getArgNumber());
    if (auto n =
            func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "kuai.name"))
      name = n.str();
    if (!dtype)
      return llvm::createStringError("input '" + name +
                                     "' has an element type without GPU "
                                     "support");
    Buffer b;
    b.dtype = *dtype;
    b.dims = dimsOf(arg);
    b.name = name;
    // An input the function returns updated (kuai-kv-cache's pages) is
    // state: the runtime keeps it, the launches update it in place.
    bool state = llvm::any_of(
        llvm::seq<unsigned>(0, func.getNumResults()), [&](unsigned r) {
          auto u = func.getResultAttrOfType<IntegerAttr>(r, "kuai.updates");
          return u && u.getInt() == int64_t(arg.getArgNumber());
        });
    if (state) {
      b.kind = Buffer::Kind::State;
      int id = program.addBuffer(std::move(b));
      buffers[arg] = id;
      program.states.push_back({name, id});
      continue;
    }
    b.inputIndex = int(program.inputs.size());
    for (const SymExpr &d : b.dims)
      if (!d.isConstant() && !d.getSymbolName())
        return llvm::createStringError(
            "input '" + name +
            "' has a dimension that is not a constant or "
            "a named symbol: " +
            d.str());
    int id = program.addBuffer(std::move(b));
    buffers[arg] = id;
    program.inputs.push_back({name, id});
  }
  for (Operation &op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        auto b = bufferOf(&op, v);
        if (!b)
          return b.takeError();
        std::string name = "output" + std::to_string(i);
        if (auto n = func.getResultAttrOfType<StringAttr>(i, "kuai.name"))
          name = n.str();
        int id = *b;
        if (auto u = func.getResultAttrOfType<IntegerAttr>(i, "kuai.updates")) {
          // Updated in place: must be the state buffer itself.
          if (program.buffers[id].kind != Buffer::Kind::State ||
              id != buffers.lookup(func.getArgument(u.getInt())))
            return llvm::createStringError(
                "output '" + name +
                "' updates an input but is not computed in place in it");
          continue;
        }
        const Buffer &src = program.buffers[id];
        // Outputs own arena storage of their own: copy views, weights,
        // inputs and values returned twice.
        if (src.kind != Buffer::Kind::Arena || src.inputIndex >= 0 ||
            src.outputIndex >= 0) {
          Buffer copy;
          copy.dtype = src.dtype;
          copy.dims = src.dims;
          copy.name = name;
          int to = program.addBuffer(std::move(copy));
          convertKernel(*b, to, "output copy");
          id = to;
        }
        program.buffers[id].outputIndex = int(program.outputs.size());
        program.outputs.push_back({name, id});
      }
      if (!program.states.empty())
        if (llvm::Error e = addGreedyOutput())
          return std::move(e);
      continue;
    }
    if (llvm::Error e = lowerOp(&op))
      return std::move(e);
  }
  return std::move(program);
}

} // namespace

void kuai::codegen::addSmallRowVariants(KernelProgram &program) {
  // Rows up to this many (decode steps of up to 64 sequences) take the GEMV
  // kernels (up to 32 rows) or split-K over 64-row mma.sync tiles; the
  // variants chosen at the bound row count run above it.
  constexpr int64_t smallRows = 64;
  std::vector<Launch> out;
  for (Launch &l : program.launches) {
    llvm::StringRef fn = l.function;
    bool linear = fn.starts_with("kuai_linear_wg") ||
                  fn.starts_with("kuai_linear_tc64_") ||
                  fn.starts_with("kuai_linear_tc128_");
    if (!linear || l.when != SymExpr::constant(1) ||
        l.what.find("split-K") != std::string::npos) {
      out.push_back(std::move(l));
      continue;
    }
    // Both kernels: (x, W, bias, residual, y, M, N, K, act); the Hopper one
    // takes x and W as tensor maps over the same buffers.
    SymExpr m = l.args[5].value, n = l.args[6].value, k = l.args[7].value;
    auto mBound = m.evaluate(program.options.bounds);
    auto nVal = n.getConstant(), kVal = k.getConstant();
    if (m.isConstant() || !mBound || *mBound <= smallRows || !nVal || !kVal ||
        *kVal % 32 != 0) {
      out.push_back(std::move(l));
      continue;
    }
    int x = l.args[0].buffer, w = l.args[1].buffer;
    DType dtype = program.buffers[x].dtype;
    std::string suffix = dtype == DType::F16 ? "f16" : "bf16";
    bool f32Out = fn.ends_with("_out_f32");
    int64_t blocks = (*nVal + 63) / 64, kTiles = *kVal / 32;
    int64_t splits = std::max<int64_t>(
        1, std::min<int64_t>({(264 + blocks - 1) / blocks, kTiles / 4, 8}));
    // Rows 1, 2..8, 9..16 and 17..32: the GEMV kernels stream W once (x
    // 16-byte aligned; above one row on tensor cores); 33..64 (or all up to
    // 64 without GEMV): split-K.
    bool gemv = *kVal % 8 == 0 && program.rootElementOffset(x) &&
                *program.rootElementOffset(x) % 8 == 0;
    constexpr int64_t gemvRows[] = {1, 8, 16, 32};
    SymExpr small = gemv ? (m - SymExpr::constant(gemvRows[3])) *
                               (SymExpr::constant(smallRows + 1) - m)
                         : SymExpr::constant(smallRows + 1) - m;
    if (gemv)
      for (size_t i = 0; i < std::size(gemvRows); ++i) {
        int64_t rows = gemvRows[i], above = i ? gemvRows[i - 1] : 0;
        Launch g;
        g.module = "templates";
        g.function = "kuai_linear_gemv" + std::to_string(rows) + "_" + suffix +
                     (f32Out ? "_out_f32" : "");
        g.what = "linear (GEMV, rows " +
                 (rows == 1 ? std::string("1")
                            : std::to_string(above + 1) + "-" +
                                  std::to_string(rows)) +
                 ")" + l.what.substr(std::min(l.what.size(), l.what.find('+')));
        // One row: a warp per row of W, 8 per block; more: 16 rows of W per
        // block (the MMA's A tile).
        g.grid[0] = {n, rows == 1 ? 8 : 16};
        g.block[0] = 256;
        g.args = {Arg::buf(x), Arg::buf(w), l.args[2],   l.args[3], l.args[4],
                  Arg::i64(m), Arg::i64(n), Arg::i64(k), l.args[8]};
        g.reads = {x, w};
        for (int r : {2, 3})
          if (l.args[r].kind == Arg::Kind::Buffer)
            g.reads.push_back(l.args[r].buffer);
        g.writes = l.writes;
        g.flops = SymExpr::constant(2) * m * n * k;
        g.bytes = (m * k + k * n) * SymExpr::constant(dtypeBytes(dtype)) +
                  m * n * SymExpr::constant(f32Out ? 4 : dtypeBytes(dtype));
        // above < M < rows + 1: (M - above)(rows + 1 - M) > 0.
        g.when =
            (m - SymExpr::constant(above)) * (SymExpr::constant(rows + 1) - m);
        out.push_back(std::move(g));
      }
    Buffer ws;
    ws.dtype = DType::F32;
    ws.dims = {SymExpr::constant(splits), SymExpr::constant(smallRows), n};
    ws.name = program.buffers[l.args[4].buffer].name + ".splitk";
    int wsb = program.addBuffer(std::move(ws));
    Launch partial;
    partial.module = "templates";
    partial.function = "kuai_linear_tc64_" + suffix + "_out_f32";
    partial.what = "linear (split-K " + std::to_string(splits) +
                   ", rows <= " + std::to_string(smallRows) + ")";
    partial.grid[0] = {n, 64};
    partial.grid[1] = {m, 64};
    partial.grid[2] = {SymExpr::constant(splits), 1};
    partial.block[0] = 128;
    partial.sharedBytes = 4 * (2 * 64) * 40 * 2;
    partial.args = {Arg::buf(x), Arg::buf(w),   Arg::null(),
                    Arg::null(), Arg::buf(wsb), Arg::i64(m),
                    Arg::i64(n), Arg::i64(k),   Arg::i32(0)};
    partial.reads = {x, w};
    partial.writes = {wsb};
    partial.flops = SymExpr::constant(2) * m * n * k;
    partial.bytes = (m * k + k * n) * SymExpr::constant(dtypeBytes(dtype)) +
                    SymExpr::constant(4 * splits) * m * n;
    partial.when = small;
    Launch reduce;
    reduce.module = "templates";
    reduce.function =
        "kuai_linear_tc_reduce_" + suffix + (f32Out ? "_out_f32" : "");
    reduce.what =
        "linear (split-K reduce, rows <= " + std::to_string(smallRows) + ")" +
        l.what.substr(std::min(l.what.size(), l.what.find('+')));
    reduce.grid[0] = {m * n, 256};
    reduce.block[0] = 256;
    reduce.args = {Arg::buf(wsb), Arg::null(),
                   l.args[2],     l.args[3],
                   l.args[4],     Arg::i64(m),
                   Arg::i64(n),   Arg::i64(SymExpr::constant(splits)),
                   l.args[8]};
    reduce.reads = {wsb};
    for (int r : {2, 3})
      if (l.args[r].kind == Arg::Kind::Buffer)
        reduce.reads.push_back(l.args[r].buffer);
    reduce.writes = l.writes;
    reduce.bytes = SymExpr::constant(4 * splits) * m * n +
                   m * n * SymExpr::constant(f32Out ? 4 : dtypeBytes(dtype));
    reduce.when = small;
    l.when = m - SymExpr::constant(smallRows);
    out.push_back(std::move(partial));
    out.push_back(std::move(reduce));
    out.push_back(std::move(l));
  }
  program.launches = std::move(out);
}

const char *kuai::codegen::dtypeName(DType t) {
  switch (t) {
  case DType::F32:
    return "f32";
  case DType::F16:
    return "f16";
  case DType::BF16:
    return "bf16";
  case DType::I64:
    return "i64";
  case DType::I32:
    return "i32";
  case DType::I8:
    return "i8";
  case DType::U8:
    return "u8";
  case DType::Bool:
    return "bool";
  }
  return "?";
}

int64_t kuai::codegen::dtypeBytes(DType t) {
  switch (t) {
  case DType::F32:
  case DType::I32:
    return 4;
  case DType::F16:
  case DType::BF16:
    return 2;
  case DType::I64:
    return 8;
  default:
    return 1;
  }
}

bool kuai::codegen::isFloat(DType t) {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

SymExpr Buffer::numel() const {
  SymExpr n = SymExpr::constant(1);
  for (const SymExpr &d : dims)
    n = n * d;
  return n;
}

llvm::Expected<KernelProgram>
kuai::codegen::lowerToKernels(func::FuncOp func,
                              const CompileOptions &options) {
  return Lowering(func, options).run();
}
