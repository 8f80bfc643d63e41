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
// fold into its strides, and so do slice copies (a split QKV projection)
// that only feed it: it reads the sliced buffer through an offset view.
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
        found = found == -1 ? int(j) : -2;
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

/// The one view of buffer `x` if exactly one views it and that view is a
/// reshape: all of x's elements from offset 0, and no model output.
std::optional<int> soleReshape(const KernelProgram &p, int x) {
  std::optional<int> view;
  for (size_t b = 0; b < p.buffers.size(); ++b)
    if (p.buffers[b].kind == Buffer::Kind::View && p.buffers[b].viewOf == x) {
      if (view)
        return std::nullopt;
      view = int(b);
    }
  if (!view)
    return std::nullopt;
  const Buffer &v = p.buffers[*view];
  if (v.viewElementOffset != SymExpr::constant(0) || v.outputIndex >= 0 ||
      v.numel() != p.buffers[x].numel())
    return std::nullopt;
  return view;
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
  // What the epilogue's reader loads: x, or the one reshape of x (GPT-2's
  // Conv1D flattens rows for its addmm and restores them after): both are
  // x's elements in x's order, so the epilogue's row * N + column indexing
  // holds for either.
  int xr = x;
  if (viewed) {
    std::optional<int> reshape = soleReshape(p, x);
    if (!readers.empty() || !reshape)
      return false;
    xr = *reshape;
    readers = readersOf(p, xr, viewed);
  }
  if (viewed || readers.size() != 1 || !p.launches[readers[0]].elementwise)
    return false;
  const Dims &xDims = p.buffers[xr].dims;
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
  // and residual must start a multiple of four elements into their storage.
  bool hopper = fn.starts_with("kuai_linear_wg");
  if (hopper && !startsAligned(p, k.out, 4))
    return false;
  auto act = acts.find(root.op);
  // The ping-pong Hopper linear has no activation (linear_wgmma.cu; the
  // lowering gives a linear followed by one a cooperative tile).
  bool pingpong = fn.starts_with("kuai_linear_wgpp");
  if (act != acts.end() && !pingpong &&
      l.args[8].value == SymExpr::constant(0) &&
      l.args[3].kind == Arg::Kind::Null && out.dtype == xb.dtype &&
      identityLoad(k, k.nodes[root.operands[0]], xr, xDims)) {
    l.args[8] = Arg::i32(act->second);
  } else if (root.op == "add" && l.args[3].kind == Arg::Kind::Null) {
    int a = root.operands[0], b = root.operands[1];
    if (!identityLoad(k, k.nodes[a], xr, xDims))
      std::swap(a, b);
    const ExprNode &rn = k.nodes[b];
    if (!identityLoad(k, k.nodes[a], xr, xDims) ||
        rn.kind != ExprNode::Kind::Load || rn.buffer == xr ||
        p.root(rn.buffer) == x || !identityLoad(k, rn, rn.buffer, xDims) ||
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
/// (a transpose; with `atConstantOffset`, also a box of it starting at a
/// constant element, such as one output of a split), or null.
const ExprNode *pureCopy(const Launch &l, bool atConstantOffset = false) {
  if (!l.elementwise)
    return nullptr;
  const ElementwiseKernel &k = *l.elementwise;
  const ExprNode &n = k.nodes[k.root];
  if (k.nodes.size() != 1 || n.kind != ExprNode::Kind::Load ||
      n.indexBuffer >= 0 ||
      !(atConstantOffset ? n.base.isConstant()
                         : n.base == SymExpr::constant(0)) ||
      k.outBase != SymExpr::constant(0) ||
      k.outStrides != contiguousStrides(k.dims))
    return nullptr;
  return &n;
}

/// The one launch that writes buffer `x`, if exactly one does.
std::optional<size_t> soleWriter(const KernelProgram &p, int x) {
  std::optional<size_t> writer;
  for (size_t w = 0; w < p.launches.size(); ++w)
    if (llvm::is_contained(p.launches[w].writes, x)) {
      if (writer)
        return std::nullopt;
      writer = w;
    }
  return writer;
}

/// Makes attention launch `li` read operand `i` from `to` instead of `from`
/// with the given (batch, head, position) strides, and drops the copy
/// launch `copy` that made `from`.
void rebindAttentionOperand(KernelProgram &p, size_t li, int i, int from,
                            int to, const Dims &strides, llvm::StringRef what,
                            size_t copy) {
  Launch &l = p.launches[li];
  for (int d = 0; d < 3; ++d)
    l.args[5].pack[7 + 3 * i + d] = strides[d];
  l.args[i] = Arg::buf(to);
  llvm::erase(l.reads, from);
  l.reads.push_back(to);
  l.what = (what + "+" + l.what).str();
  p.launches.erase(p.launches.begin() + copy);
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
    std::optional<size_t> writer = soleWriter(p, x);
    if (!writer)
      continue;
    const ExprNode *load = pureCopy(p.launches[*writer]);
    if (!load || p.launches[*writer].elementwise->dims != xb.dims ||
        load->strides[3] != SymExpr::constant(1) ||
        p.buffers[load->buffer].dtype != xb.dtype)
      continue;
    rebindAttentionOperand(
        p, li, i, x, load->buffer,
        {load->strides[0], load->strides[1], load->strides[2]}, "transpose",
        *writer);
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
        found = found == -1 ? d : -2;
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

/// Attention reads q, k and v through strides, so a slice copy (a split
/// of a fused QKV projection's output, or any copy of a box of a buffer
/// with unit innermost stride) that only feeds one of them, directly or
/// through a reshape that splits its last dim into (heads, head dim),
/// disappears: the attention reads the sliced buffer in place, through a
/// view at the slice's offset.
bool tryFoldAttentionSlices(KernelProgram &p, size_t li) {
  Launch &l = p.launches[li];
  llvm::StringRef fn = l.function;
  if (!fn.starts_with("kuai_attention"))
    return false;
  const bool tensorCores = fn.starts_with("kuai_attention_tc");
  llvm::SmallVector<SymExpr> &pack = l.args[5].pack;
  for (int i = 0; i < 3; ++i) {
    if (l.args[i].kind != Arg::Kind::Buffer)
      continue;
    const int a = l.args[i].buffer;
    const Buffer &ab = p.buffers[a];
    // The slice copy's output s: the operand itself, or what it views.
    int s = a;
    if (ab.kind == Buffer::Kind::View) {
      if (ab.viewElementOffset != SymExpr::constant(0))
        continue;
      s = ab.viewOf;
    }
    const Buffer &sb = p.buffers[s];
    if (sb.kind != Buffer::Kind::Arena || sb.inputIndex >= 0 ||
        sb.outputIndex >= 0 || ab.dims.size() != 4)
      continue;
    // This operand is s's only use: no other launch, view or operand.
    bool otherUse = false;
    for (size_t b = 0; b < p.buffers.size(); ++b)
      if (p.buffers[b].kind == Buffer::Kind::View && p.root(int(b)) == s &&
          int(b) != a)
        otherUse = true;
    // Counted over q, k, v and the mask (args 0..3).
    int uses = 0;
    for (int j = 0; j < 4; ++j)
      uses +=
          l.args[j].kind == Arg::Kind::Buffer && p.root(l.args[j].buffer) == s;
    for (size_t w = 0; w < p.launches.size(); ++w)
      if (w != li && llvm::any_of(p.launches[w].reads,
                                  [&](int r) { return p.root(r) == s; }))
        otherUse = true;
    std::optional<size_t> writer = soleWriter(p, s);
    if (otherUse || uses != 1 || !writer)
      continue;
    // The writer copies a box of y over s's dims: unit innermost stride, a
    // constant offset.
    const ExprNode *copy = pureCopy(p.launches[*writer], true);
    const size_t rank = sb.dims.size();
    if (!copy || p.launches[*writer].elementwise->dims != sb.dims ||
        copy->strides.size() != rank ||
        copy->strides[rank - 1] != SymExpr::constant(1))
      continue;
    const ExprNode &load = *copy;
    // A box, not a broadcast: every dim that is stepped moves forward in y
    // (so the view spans no more than y's slot past its offset).
    bool box = true;
    for (size_t d = 0; d < rank; ++d)
      if (sb.dims[d] != SymExpr::constant(1))
        if (auto c = load.strides[d].getConstant(); c && *c <= 0)
          box = false;
    const int y = load.buffer;
    const Buffer &yb = p.buffers[y];
    if (!box || yb.dtype != sb.dtype ||
        p.buffers[p.root(y)].kind == Buffer::Kind::State ||
        !p.rootElementOffset(y))
      continue;
    // The y stride of each of the operand's dims: s's own dims, or s's
    // last dim split into (heads, head dim).
    Dims yStrides;
    if (rank == 4 && ab.dims == sb.dims) {
      yStrides = load.strides;
    } else if (rank == 3 && ab.dims[0] == sb.dims[0] &&
               ab.dims[1] == sb.dims[1] &&
               ab.dims[2] * ab.dims[3] == sb.dims[2]) {
      yStrides = {load.strides[0], load.strides[1], ab.dims[3],
                  SymExpr::constant(1)};
    } else {
      continue;
    }
    // The attention's (batch, head, position) strides over the operand's
    // contiguous layout: each must be one of its dims' strides.
    const Dims contig = contiguousStrides(ab.dims);
    const SymExpr extents[3][3] = {{pack[0], pack[1], pack[3]},
                                   {pack[0], pack[2], pack[4]},
                                   {pack[0], pack[2], pack[4]}};
    Dims strides(3);
    // The innermost dim is the head dim (pack[5] for q and k, pack[6] for v).
    bool mapped = ab.dims[3] == pack[i == 2 ? 6 : 5];
    for (int d = 0; d < 3 && mapped; ++d) {
      int found = -1;
      for (int j = 0; j < 3; ++j)
        if (contig[j] == pack[7 + 3 * i + d] && ab.dims[j] == extents[i][d])
          found = found == -1 ? j : -2;
      if (found < 0 && extents[i][d] == SymExpr::constant(1)) {
        strides[d] = SymExpr::constant(0); // never stepped
        continue;
      }
      mapped = found >= 0;
      if (mapped)
        strides[d] = yStrides[found];
    }
    if (!mapped)
      continue;
    // The tensor-core kernel moves rows in 16-byte pieces.
    const int64_t offset = *load.base.getConstant();
    if (tensorCores) {
      const SymExpr eight = SymExpr::constant(8);
      bool aligned = (*p.rootElementOffset(y) + offset) % 8 == 0;
      for (const SymExpr &st : strides)
        aligned = aligned && st.exactDiv(eight).isKnown();
      if (!aligned)
        continue;
    }
    Buffer v;
    v.kind = Buffer::Kind::View;
    v.dtype = ab.dtype;
    v.dims = ab.dims;
    v.name = ab.name;
    v.viewOf = y;
    v.viewElementOffset = SymExpr::constant(offset);
    const int view = p.addBuffer(std::move(v));
    rebindAttentionOperand(p, li, i, a, view, strides, "slice", *writer);
    return true;
  }
  return false;
}

} // namespace

int kuai::codegen::fuseKernels(KernelProgram &program) {
  int removed = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    for (size_t i = 0; i < program.launches.size(); ++i)
      if (tryFuse(program, i) || tryFuseEpilogue(program, i) ||
          tryFoldAttentionTransposes(program, i) ||
          tryFoldAttentionSlices(program, i)) {
        ++removed;
        changed = true;
        break;
      }
  }
  return removed;
}
