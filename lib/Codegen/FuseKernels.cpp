//===- FuseKernels.cpp - Merge elementwise producers into consumers -------===//
//
// kuai-fuse-kernels: a generated kernel whose result is read by exactly
// one other generated kernel, through one load that visits the result
// contiguously, broadcast or permuted (a transpose), is inlined into that
// load: its own loads are re-expressed over the consumer's coordinates, so
// the intermediate buffer and a pass over memory disappear. The value
// is no longer rounded to the intermediate's dtype: only stores and
// explicit Casts round. Producers that
// are model outputs or viewed by reshapes stay.
//
// Epilogues: the activation (GELU, SiLU, ReLU) and then the residual add
// that read a tensor-core linear's result move into the linear's epilogue.
// Attention: transposes that only feed its q, k, v or only read its output
// fold into its strides.
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
#include "llvm/ADT/DenseMap.h"

using namespace kuai;
using namespace kuai::codegen;

namespace {

/// For each consumer dim, the producer dim it walks (-1: none, coordinate
/// 0), or std::nullopt when the load is not a permutation/broadcast of the
/// producer's contiguous layout.
std::optional<llvm::SmallVector<int>> coordinateMap(const ExprNode &load,
                                                    const Dims &consumerDims,
                                                    const Dims &producerDims) {
  if (load.indexBuffer >= 0 || load.base != SymExpr::constant(0))
    return std::nullopt;
  Dims contig = contiguousStrides(producerDims);
  llvm::SmallVector<int> map(consumerDims.size(), -1);
  llvm::SmallVector<bool> covered(producerDims.size(), false);
  for (size_t d = 0; d < consumerDims.size(); ++d) {
    if (load.strides[d] == SymExpr::constant(0))
      continue;
    int found = -1;
    for (size_t j = 0; j < producerDims.size(); ++j)
      if (!covered[j] && producerDims[j] != SymExpr::constant(1) &&
          contig[j] == load.strides[d] && producerDims[j] == consumerDims[d])
        found = found < 0 ? int(j) : -2;
    if (found < 0)
      return std::nullopt; // no producer dim, or ambiguous
    map[d] = found;
    covered[found] = true;
  }
  for (size_t j = 0; j < producerDims.size(); ++j)
    if (!covered[j] && producerDims[j] != SymExpr::constant(1))
      return std::nullopt;
  return map;
}

/// Strides over producer coordinates re-expressed over consumer ones.
Dims remap(const Dims &strides, llvm::ArrayRef<int> map) {
  Dims out;
  for (int j : map)
    out.push_back(j < 0 ? SymExpr::constant(0) : strides[j]);
  return out;
}

bool tryFuse(KernelProgram &p, size_t consumerIndex) {
  Launch &c = p.launches[consumerIndex];
  if (!c.elementwise)
    return false;
  ElementwiseKernel &ck = *c.elementwise;
  for (size_t ni = 0; ni < ck.nodes.size(); ++ni) {
    if (ck.nodes[ni].kind != ExprNode::Kind::Load)
      continue;
    int x = ck.nodes[ni].buffer;
    const Buffer &xb = p.buffers[x];
    if (xb.kind != Buffer::Kind::Arena || xb.inputIndex >= 0 ||
        xb.outputIndex >= 0)
      continue;
    // One writer (a generated kernel writing contiguously), one reader, no
    // views of x.
    int writer = -1, readers = 0;
    bool viewed = false;
    for (const Buffer &b : p.buffers)
      viewed |= b.kind == Buffer::Kind::View && b.viewOf == x;
    for (size_t li = 0; li < p.launches.size(); ++li) {
      const Launch &l = p.launches[li];
      for (int w : l.writes)
        if (w == x)
          writer = writer == -1 ? int(li) : -2;
      for (int r : l.reads)
        readers += r == x;
    }
    if (viewed || writer < 0 || readers != 1 || size_t(writer) > consumerIndex)
      continue;
    Launch &prod = p.launches[writer];
    if (!prod.elementwise)
      continue;
    const ElementwiseKernel &pk = *prod.elementwise;
    if (pk.outBase != SymExpr::constant(0) ||
        pk.outStrides != contiguousStrides(pk.dims) || pk.dims != xb.dims)
      continue;
    auto map = coordinateMap(ck.nodes[ni], ck.dims, pk.dims);
    if (!map)
      continue;
    // Append the producer's nodes, re-expressed; the load becomes its root.
    int offset = int(ck.nodes.size());
    for (const ExprNode &n : pk.nodes) {
      ExprNode m = n;
      for (int &o : m.operands)
        o += offset;
      if (m.kind == ExprNode::Kind::Load) {
        m.strides = remap(n.strides, *map);
        if (m.indexBuffer >= 0)
          m.indexStrides = remap(n.indexStrides, *map);
      }
      if (m.kind == ExprNode::Kind::Iota) {
        int axis = -1;
        for (size_t d = 0; d < map->size(); ++d)
          if ((*map)[d] == n.axis)
            axis = int(d);
        if (axis < 0) { // a dim of size 1: coordinate 0
          m.kind = ExprNode::Kind::Const;
          m.value = 0;
        } else {
          m.axis = axis;
        }
      }
      ck.nodes.push_back(std::move(m));
    }
    ExprNode &load = ck.nodes[ni];
    DType stored = load.type;
    load = ExprNode();
    load.kind = ExprNode::Kind::Op;
    // Intermediates of a fused kernel stay in fp32 (they are not stored);
    // explicit Casts still round.
    load.op = "fused";
    load.type = stored;
    load.operands = {pk.root + offset};
    // Reads: the consumer's minus x, plus the producer's.
    llvm::erase(c.reads, x);
    c.reads.append(prod.reads.begin(), prod.reads.end());
    c.what = prod.what + "+" + c.what;
    c.bytes = SymExpr::constant(0);
    p.launches.erase(p.launches.begin() + writer);
    return true;
  }
  return false;
}

/// The generated launches reading buffer `x` (directly; views excluded).
std::vector<size_t> readersOf(const KernelProgram &p, int x, bool &viewed) {
  viewed = false;
  for (const Buffer &b : p.buffers)
    viewed |= b.kind == Buffer::Kind::View && b.viewOf == x;
  std::vector<size_t> readers;
  for (size_t li = 0; li < p.launches.size(); ++li)
    if (llvm::is_contained(p.launches[li].reads, x))
      readers.push_back(li);
  return readers;
}

/// A load of `x` visiting it contiguously over the kernel's own dims.
bool identityLoad(const ElementwiseKernel &k, const ExprNode &n, int x,
                  const Dims &xDims) {
  return n.kind == ExprNode::Kind::Load && n.buffer == x && n.indexBuffer < 0 &&
         n.base == SymExpr::constant(0) && k.dims == xDims &&
         n.strides == contiguousStrides(xDims) &&
         k.outBase == SymExpr::constant(0) &&
         k.outStrides == contiguousStrides(k.dims);
}

/// Whether buffer `b` starts a multiple of `elements` elements into its
/// storage (so 16-byte vector accesses stay aligned).
bool startsAligned(const KernelProgram &p, int b, int64_t elements) {
  std::optional<int64_t> offset = p.rootElementOffset(b);
  return offset && *offset % elements == 0;
}

/// Folds the activation and the residual add that follow a tensor-core
/// linear into its epilogue: y = act(x·Wᵀ + b) + residual.
bool tryFuseEpilogue(KernelProgram &p, size_t li) {
  Launch &l = p.launches[li];
  // Both tensor-core linears (mma.sync and Hopper) take the epilogue's
  // residual, output and activation at arguments 3, 4 and 8.
  llvm::StringRef fn = l.function;
  if (!fn.starts_with("kuai_linear_tc") && !fn.starts_with("kuai_linear_wg"))
    return false;
  int x = l.args[4].buffer;
  const Buffer &xb = p.buffers[x];
  if (xb.outputIndex >= 0)
    return false;
  bool viewed;
  std::vector<size_t> readers = readersOf(p, x, viewed);
  if (viewed || readers.size() != 1 || !p.launches[readers[0]].elementwise)
    return false;
  size_t gi = readers[0];
  Launch &g = p.launches[gi];
  const ElementwiseKernel &k = *g.elementwise;
  const ExprNode &root = k.nodes[k.root];
  if (root.kind != ExprNode::Kind::Op)
    return false;
  static const llvm::StringMap<int> acts = {
      {"gelu", 1}, {"gelu_tanh", 2}, {"silu", 3}, {"relu", 4}};
  const Buffer &out = p.buffers[k.out];
  // The Hopper linear reads and stores four columns at once: its output
  // and residual must start 16-byte aligned.
  bool hopper = fn.starts_with("kuai_linear_wg");
  if (hopper && !startsAligned(p, k.out, 4))
    return false;
  auto act = acts.find(root.op);
  if (act != acts.end() && l.args[8].value == SymExpr::constant(0) &&
      l.args[3].kind == Arg::Kind::Null && out.dtype == xb.dtype &&
      identityLoad(k, k.nodes[root.operands[0]], x, xb.dims)) {
    l.args[8] = Arg::i32(act->second);
  } else if (root.op == "add" && l.args[3].kind == Arg::Kind::Null) {
    int a = root.operands[0], b = root.operands[1];
    if (!identityLoad(k, k.nodes[a], x, xb.dims))
      std::swap(a, b);
    const ExprNode &rn = k.nodes[b];
    if (!identityLoad(k, k.nodes[a], x, xb.dims) ||
        rn.kind != ExprNode::Kind::Load || rn.buffer == x ||
        !identityLoad(k, rn, rn.buffer, xb.dims) ||
        p.buffers[rn.buffer].dtype != out.dtype ||
        (hopper && !startsAligned(p, rn.buffer, 4)))
      return false;
    bool toF32 = out.dtype == DType::F32 && xb.dtype != DType::F32;
    if (out.dtype != xb.dtype && !toF32)
      return false;
    if (toF32) {
      // The cluster split-K linears (kuai_linear_wg128sN_*) have no fp32
      // output.
      if (llvm::StringRef(l.function).ends_with("_out_f32") ||
          llvm::StringRef(l.function).starts_with("kuai_linear_wg128s"))
        return false;
      l.function += "_out_f32";
    }
    l.args[3] = Arg::buf(rn.buffer);
    l.reads.push_back(rn.buffer);
  } else {
    return false;
  }
  l.args[4] = Arg::buf(k.out);
  l.writes = {k.out};
  l.what += "+" + g.what;
  p.launches.erase(p.launches.begin() + gi);
  return true;
}

/// A generated launch that only copies one buffer through a strided load
/// (a transpose), or null.
const ExprNode *pureCopy(const Launch &l) {
  if (!l.elementwise)
    return nullptr;
  const ElementwiseKernel &k = *l.elementwise;
  const ExprNode &n = k.nodes[k.root];
  if (k.nodes.size() != 1 || n.kind != ExprNode::Kind::Load ||
      n.indexBuffer >= 0 || n.base != SymExpr::constant(0) ||
      k.outBase != SymExpr::constant(0) ||
      k.outStrides != contiguousStrides(k.dims))
    return nullptr;
  return &n;
}

/// Attention reads q, k, v and writes its output through (batch, head,
/// position) strides: a transpose that only feeds it, or that only reads
/// its output, disappears into those strides.
bool tryFoldAttentionTransposes(KernelProgram &p, size_t li) {
  Launch &l = p.launches[li];
  if (!llvm::StringRef(l.function).starts_with("kuai_attention"))
    return false;
  llvm::SmallVector<SymExpr> &pack = l.args[5].pack;
  // Inputs: q, k, v at args 0..2, strides at pack[7 + 3 * i].
  for (int i = 0; i < 3; ++i) {
    if (l.args[i].kind != Arg::Kind::Buffer)
      continue;
    int x = l.args[i].buffer;
    const Buffer &xb = p.buffers[x];
    if (xb.kind != Buffer::Kind::Arena || xb.outputIndex >= 0 ||
        xb.dims.size() != 4)
      continue;
    bool viewed;
    std::vector<size_t> readers = readersOf(p, x, viewed);
    if (viewed || readers.size() != 1 || readers[0] != li)
      continue;
    // Same buffer for several operands (self-attention on one tensor).
    int uses = 0;
    for (int j = 0; j < 3; ++j)
      uses += l.args[j].kind == Arg::Kind::Buffer && l.args[j].buffer == x;
    if (uses != 1)
      continue;
    std::optional<size_t> writer;
    for (size_t w = 0; w < p.launches.size(); ++w)
      if (llvm::is_contained(p.launches[w].writes, x))
        writer = w;
    if (!writer)
      continue;
    const ExprNode *load = pureCopy(p.launches[*writer]);
    if (!load || p.launches[*writer].elementwise->dims != xb.dims ||
        load->strides[3] != SymExpr::constant(1) ||
        p.buffers[load->buffer].dtype != xb.dtype)
      continue;
    int y = load->buffer;
    for (int d = 0; d < 3; ++d)
      pack[7 + 3 * i + d] = load->strides[d];
    l.args[i] = Arg::buf(y);
    llvm::erase(l.reads, x);
    l.reads.push_back(y);
    l.what = "transpose+" + l.what;
    p.launches.erase(p.launches.begin() + *writer);
    return true;
  }
  // Output: one reader that only transposes it.
  int o = l.args[4].buffer;
  const Buffer &ob = p.buffers[o];
  if (ob.outputIndex >= 0 || ob.dims.size() != 4)
    return false;
  bool viewed;
  std::vector<size_t> readers = readersOf(p, o, viewed);
  if (viewed || readers.size() != 1)
    return false;
  Launch &t = p.launches[readers[0]];
  const ExprNode *load = pureCopy(t);
  if (!load || load->buffer != o ||
      p.buffers[t.elementwise->out].dtype != ob.dtype)
    return false;
  const ElementwiseKernel &tk = *t.elementwise;
  Dims contigO = contiguousStrides(ob.dims),
       contigT = contiguousStrides(tk.dims);
  if (tk.dims.size() != 4)
    return false;
  // The transpose's dim walking each dim of o gives o's new stride.
  Dims strides(4);
  for (int j = 0; j < 4; ++j) {
    int found = -1;
    for (int d = 0; d < 4; ++d)
      if (load->strides[d] == contigO[j] && tk.dims[d] == ob.dims[j])
        found = found < 0 ? d : -2;
    if (found < 0)
      return false;
    strides[j] = contigT[found];
  }
  if (strides[3] != SymExpr::constant(1))
    return false;
  for (int d = 0; d < 3; ++d)
    pack[16 + d] = strides[d];
  int z = tk.out;
  l.args[4] = Arg::buf(z);
  l.writes = {z};
  l.what += "+transpose";
  p.launches.erase(p.launches.begin() + readers[0]);
  return true;
}

} // namespace

int kuai::codegen::fuseKernels(KernelProgram &program) {
  int removed = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = 0; i < program.launches.size(); ++i)
      if (tryFuse(program, i) || tryFuseEpilogue(program, i) ||
          tryFoldAttentionTransposes(program, i)) {
        ++removed;
        changed = true;
        break;
      }
  }
  return removed;
}
