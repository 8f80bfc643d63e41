//===- MovementKernels.cpp - Shape, gather, scatter and copy kernels ------===//

#include "Kernels.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"
#include <numeric>

using namespace mlir;
using namespace kuai;
using namespace kuai::ref;

namespace {

/// Copies element `from` of `src` to element `to` of `dst` (same storage).
inline void copyElem(const Tensor &src, int64_t from, Tensor &dst, int64_t to) {
  if (src.isFloat())
    dst.floats[to] = src.floats[from];
  else
    dst.ints[to] = src.ints[from];
}

bool reshapeTo(KernelContext &ctx, const Tensor &x,
               std::vector<int64_t> shape) {
  if (product(shape) != x.numel())
    return ctx.fail("cannot reshape " + x.shapeString() + " (" +
                    std::to_string(x.numel()) + " elements) into " +
                    std::to_string(product(shape)) + " elements");
  Tensor &out = ctx.emit(std::move(shape));
  out.floats = x.floats;
  out.ints = x.ints;
  return true;
}

bool reshape(KernelContext &ctx, ReshapeOp op) {
  const Tensor &x = ctx.in(0);
  std::vector<int64_t> target = toInts(ctx.in(1));
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !op.getAllowzero()) {
      if (i >= x.shape.size())
        return ctx.fail("shape value 0 at index " + std::to_string(i) +
                        " copies a dimension the input does not have");
      target[i] = x.shape[i];
    }
    if (target[i] == -1) {
      if (inferred >= 0)
        return ctx.fail("shape has more than one -1");
      inferred = i;
    } else {
      known *= target[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || x.numel() % known != 0)
      return ctx.fail("cannot infer -1: " + std::to_string(x.numel()) +
                      " elements do not divide by " + std::to_string(known));
    target[inferred] = x.numel() / known;
  }
  return reshapeTo(ctx, x, target);
}

bool transpose(KernelContext &ctx, const Tensor &x, std::vector<int64_t> perm) {
  std::vector<int64_t> shape;
  for (int64_t p : perm)
    shape.push_back(x.shape[p]);
  Tensor &out = ctx.emit(shape);
  std::vector<int64_t> inStrides = contiguousStrides(x.shape), strides;
  for (int64_t p : perm)
    strides.push_back(inStrides[p]);
  forEachBroadcast(shape, {strides}, [&](int64_t i, const int64_t *off) {
    copyElem(x, off[0], out, i);
  });
  return true;
}

/// Copies `src` into `dst` at an offset along `axis` (concat and split).
void copyBlock(const Tensor &src, Tensor &dst, int64_t axis, int64_t srcStart,
               int64_t dstStart, int64_t len) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= src.shape[i];
  for (size_t i = axis + 1; i < src.shape.size(); ++i)
    inner *= src.shape[i];
  int64_t srcAxis = src.shape[axis], dstAxis = dst.shape[axis];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t a = 0; a < len; ++a) {
      int64_t from = (o * srcAxis + srcStart + a) * inner;
      int64_t to = (o * dstAxis + dstStart + a) * inner;
      for (int64_t k = 0; k < inner; ++k)
        copyElem(src, from + k, dst, to + k);
    }
}

bool slice(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t rank = x.rank();
  std::vector<int64_t> starts = toInts(ctx.in(1)), ends = toInts(ctx.in(2));
  std::vector<int64_t> axes(starts.size()), steps(starts.size(), 1);
  std::iota(axes.begin(), axes.end(), 0);
  if (ctx.has(3))
    axes = toInts(ctx.in(3));
  if (ctx.has(4))
    steps = toInts(ctx.in(4));
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size())
    return ctx.fail("starts, ends, axes and steps differ in length");
  std::vector<int64_t> begin(rank, 0), step(rank, 1), shape = x.shape;
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = normAxis(axes[i], rank);
    if (a < 0 || a >= rank)
      return ctx.fail("axes value " + std::to_string(axes[i]) +
                      " is out of range for rank " + std::to_string(rank));
    int64_t n = x.shape[a], s = starts[i], e = ends[i], st = steps[i];
    if (st == 0)
      return ctx.fail("slice step is 0");
    if (s < 0)
      s += n;
    if (e < 0)
      e += n;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      shape[a] = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, -1, n - 1);
      e = std::clamp<int64_t>(e, -1, n - 1);
      shape[a] = s > e ? (s - e - st - 1) / -st : 0;
    }
    begin[a] = s;
    step[a] = st;
  }
  Tensor &out = ctx.emit(shape);
  std::vector<int64_t> in = contiguousStrides(x.shape), strides(rank);
  int64_t base = 0;
  for (int64_t d = 0; d < rank; ++d) {
    strides[d] = in[d] * step[d];
    base += begin[d] * in[d];
  }
  if (out.numel() == 0)
    return true;
  forEachBroadcast(shape, {strides}, [&](int64_t i, const int64_t *off) {
    copyElem(x, base + off[0], out, i);
  });
  return true;
}

bool gather(KernelContext &ctx, int64_t axisAttr) {
  const Tensor &x = ctx.in(0), &idx = ctx.in(1);
  int64_t axis = normAxis(axisAttr, x.rank());
  std::vector<int64_t> shape(x.shape.begin(), x.shape.begin() + axis);
  shape.insert(shape.end(), idx.shape.begin(), idx.shape.end());
  shape.insert(shape.end(), x.shape.begin() + axis + 1, x.shape.end());
  Tensor &out = ctx.emit(shape);
  int64_t outer = 1, inner = 1, n = x.shape[axis], count = idx.numel();
  for (int64_t i = 0; i < axis; ++i)
    outer *= x.shape[i];
  for (int64_t i = axis + 1; i < x.rank(); ++i)
    inner *= x.shape[i];
  for (int64_t k = 0; k < count; ++k) {
    int64_t j = idx.ints[k] < 0 ? idx.ints[k] + n : idx.ints[k];
    if (j < 0 || j >= n)
      return ctx.fail("index " + std::to_string(idx.ints[k]) +
                      " is out of range for axis of size " + std::to_string(n));
  }
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < count; ++k) {
      int64_t j = idx.ints[k] < 0 ? idx.ints[k] + n : idx.ints[k];
      int64_t from = (o * n + j) * inner, to = (o * count + k) * inner;
      if (x.isFloat())
        std::copy_n(&x.floats[from], inner, &out.floats[to]);
      else
        std::copy_n(&x.ints[from], inner, &out.ints[to]);
    }
  return true;
}

/// GatherElements and ScatterElements share the index arithmetic.
bool elementsIndex(KernelContext &ctx, const Tensor &data, const Tensor &idx,
                   int64_t axis,
                   const std::function<void(int64_t, int64_t)> &f) {
  std::vector<int64_t> dataStrides = contiguousStrides(data.shape);
  std::vector<int64_t> idxShape = idx.shape;
  std::vector<int64_t> ix(idx.rank(), 0);
  for (int64_t i = 0, n = idx.numel(); i < n; ++i) {
    int64_t j = idx.ints[i];
    int64_t dim = data.shape[axis];
    if (j < 0)
      j += dim;
    if (j < 0 || j >= dim)
      return ctx.fail("index " + std::to_string(idx.ints[i]) +
                      " is out of range for axis of size " +
                      std::to_string(dim));
    int64_t off = 0;
    for (int64_t d = 0; d < idx.rank(); ++d)
      off += (d == axis ? j : ix[d]) * dataStrides[d];
    f(i, off);
    for (int64_t d = idx.rank() - 1; d >= 0; --d) {
      if (++ix[d] < idxShape[d])
        break;
      ix[d] = 0;
    }
  }
  return true;
}

void reduceInto(Tensor &t, int64_t at, double v, StringRef reduction) {
  double cur = t.at(at);
  double r = reduction == "add"   ? cur + v
             : reduction == "mul" ? cur * v
             : reduction == "max" ? std::max(cur, v)
             : reduction == "min" ? std::min(cur, v)
                                  : v;
  if (t.isFloat())
    t.floats[at] = float(r);
  else
    t.ints[at] = int64_t(r);
}

bool gatherND(KernelContext &ctx, int64_t batchDims) {
  const Tensor &x = ctx.in(0), &idx = ctx.in(1);
  int64_t depth = idx.shape.back();
  std::vector<int64_t> shape(idx.shape.begin(), idx.shape.end() - 1);
  shape.insert(shape.end(), x.shape.begin() + batchDims + depth, x.shape.end());
  Tensor &out = ctx.emit(shape);
  int64_t batch = 1, inner = 1;
  for (int64_t i = 0; i < batchDims; ++i)
    batch *= x.shape[i];
  for (int64_t i = batchDims + depth; i < x.rank(); ++i)
    inner *= x.shape[i];
  int64_t tuples = idx.numel() / std::max<int64_t>(depth, 1);
  int64_t perBatch = tuples / std::max<int64_t>(batch, 1);
  std::vector<int64_t> strides = contiguousStrides(x.shape);
  int64_t batchStride = batchDims ? strides[batchDims - 1] : 0;
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t b = perBatch ? t / perBatch : 0;
    int64_t off = b * batchStride;
    for (int64_t k = 0; k < depth; ++k) {
      int64_t dim = x.shape[batchDims + k];
      int64_t j = idx.ints[t * depth + k];
      if (j < 0)
        j += dim;
      if (j < 0 || j >= dim)
        return ctx.fail("index " + std::to_string(idx.ints[t * depth + k]) +
                        " is out of range for dimension of size " +
                        std::to_string(dim));
      off += j * strides[batchDims + k];
    }
    for (int64_t k = 0; k < inner; ++k)
      copyElem(x, off + k, out, t * inner + k);
  }
  return true;
}

bool scatterND(KernelContext &ctx, StringRef reduction) {
  const Tensor &x = ctx.in(0), &idx = ctx.in(1), &upd = ctx.in(2);
  Tensor &out = ctx.emit(x.shape);
  out.floats = x.floats;
  out.ints = x.ints;
  int64_t depth = idx.shape.back();
  int64_t tuples = idx.numel() / std::max<int64_t>(depth, 1);
  int64_t inner = 1;
  for (int64_t i = depth; i < x.rank(); ++i)
    inner *= x.shape[i];
  std::vector<int64_t> strides = contiguousStrides(x.shape);
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t k = 0; k < depth; ++k) {
      int64_t j = idx.ints[t * depth + k];
      if (j < 0)
        j += x.shape[k];
      if (j < 0 || j >= x.shape[k])
        return ctx.fail("index out of range in ScatterND");
      off += j * strides[k];
    }
    for (int64_t k = 0; k < inner; ++k)
      reduceInto(out, off + k, upd.at(t * inner + k), reduction);
  }
  return true;
}

bool expandOrTile(KernelContext &ctx, bool tile) {
  const Tensor &x = ctx.in(0);
  std::vector<int64_t> arg = toInts(ctx.in(1));
  std::vector<int64_t> shape;
  if (!tile) {
    if (!broadcastShapes({x.shape, arg}, shape))
      return ctx.fail("cannot expand " + x.shapeString() + " to the shape");
    Tensor &out = ctx.emit(shape);
    forEachBroadcast(
        shape, {broadcastStrides(x.shape, shape)},
        [&](int64_t i, const int64_t *off) { copyElem(x, off[0], out, i); });
    return true;
  }
  if (int64_t(arg.size()) != x.rank())
    return ctx.fail("repeats has " + std::to_string(arg.size()) +
                    " values for rank " + std::to_string(x.rank()));
  for (int64_t d = 0; d < x.rank(); ++d)
    shape.push_back(x.shape[d] * arg[d]);
  Tensor &out = ctx.emit(shape);
  std::vector<int64_t> in = contiguousStrides(x.shape), ix(x.rank(), 0);
  for (int64_t i = 0, n = out.numel(); i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < x.rank(); ++d)
      off += (ix[d] % x.shape[d]) * in[d];
    copyElem(x, off, out, i);
    for (int64_t d = x.rank() - 1; d >= 0; --d) {
      if (++ix[d] < shape[d])
        break;
      ix[d] = 0;
    }
  }
  return true;
}

bool cumsum(KernelContext &ctx, CumSumOp op) {
  const Tensor &x = ctx.in(0);
  int64_t axis = normAxis(toInts(ctx.in(1)).at(0), x.rank());
  if (axis < 0 || axis >= x.rank())
    return ctx.fail("axis out of range");
  Tensor &out = ctx.emit(x.shape);
  int64_t outer = 1, inner = 1, n = x.shape[axis];
  for (int64_t i = 0; i < axis; ++i)
    outer *= x.shape[i];
  for (int64_t i = axis + 1; i < x.rank(); ++i)
    inner *= x.shape[i];
  bool excl = op.getExclusive(), rev = op.getReverse();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      double acc = 0;
      for (int64_t a = 0; a < n; ++a) {
        int64_t j = rev ? n - 1 - a : a;
        int64_t at = (o * n + j) * inner + k;
        double v = x.at(at);
        if (!excl)
          acc += v;
        if (out.isFloat())
          out.floats[at] = float(acc);
        else
          out.ints[at] = int64_t(acc);
        if (excl)
          acc += v;
      }
    }
  return true;
}

bool trilu(KernelContext &ctx, bool upper) {
  const Tensor &x = ctx.in(0);
  int64_t k = ctx.has(1) ? toInts(ctx.in(1)).at(0) : 0;
  Tensor &out = ctx.emit(x.shape);
  int64_t rows = x.shape[x.rank() - 2], cols = x.shape[x.rank() - 1];
  for (int64_t i = 0, n = x.numel(); i < n; ++i) {
    int64_t c = i % cols, r = (i / cols) % rows;
    bool keep = upper ? c - r >= k : c - r <= k;
    if (keep)
      copyElem(x, i, out, i);
  }
  return true;
}

} // namespace

std::vector<int64_t> kuai::ref::toInts(const Tensor &t) {
  if (t.isFloat())
    return std::vector<int64_t>(t.floats.begin(), t.floats.end());
  return t.ints;
}

std::optional<bool> kuai::ref::evalMovement(KernelContext &ctx) {
  using R = std::optional<bool>;
  return llvm::TypeSwitch<Operation *, R>(ctx.op)
      .Case<ConstantOp>([&](ConstantOp op) -> R {
        ctx.emit({}) = tensorFromAttr(op.getValue());
        return true;
      })
      .Case<SymTensorOp>([&](SymTensorOp op) -> R {
        auto type = cast<RankedTensorType>(op.getType());
        Tensor &out = ctx.emit(std::vector<int64_t>(type.getShape()));
        for (auto [i, e] : llvm::enumerate(op.getValues().getExprs())) {
          auto v = e.evaluate(ctx.symbols);
          if (!v)
            return ctx.fail("symbolic value '" + e.str() +
                            "' uses a symbol no input binds");
          out.ints[i] = *v;
        }
        return true;
      })
      .Case<ShapeOp>([&](ShapeOp op) -> R {
        const Tensor &x = ctx.in(0);
        int64_t rank = x.rank();
        auto clampIdx = [&](int64_t v) {
          return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
        };
        int64_t s = clampIdx(op.getStart()),
                e = clampIdx(op.getEnd().value_or(rank));
        Tensor &out = ctx.emit({std::max<int64_t>(0, e - s)});
        for (int64_t i = s; i < e; ++i)
          out.ints[i - s] = x.shape[i];
        return true;
      })
      .Case<SizeOp>([&](auto) -> R {
        ctx.emit({}).ints[0] = ctx.in(0).numel();
        return true;
      })
      .Case<ConstantOfShapeOp>([&](ConstantOfShapeOp op) -> R {
        std::vector<int64_t> shape = toInts(ctx.in(0));
        Tensor &out = ctx.emit(shape);
        if (auto value = op.getValue()) {
          Tensor v = tensorFromAttr(*value);
          if (out.isFloat())
            std::fill(out.floats.begin(), out.floats.end(), v.floats.at(0));
          else
            std::fill(out.ints.begin(), out.ints.end(), v.ints.at(0));
        }
        return true;
      })
      .Case<ReshapeOp>([&](ReshapeOp op) -> R { return reshape(ctx, op); })
      .Case<FlattenOp>([&](FlattenOp op) -> R {
        const Tensor &x = ctx.in(0);
        int64_t axis = normAxis(op.getAxis(), x.rank()), a = 1;
        for (int64_t i = 0; i < axis; ++i)
          a *= x.shape[i];
        return reshapeTo(ctx, x, {a, a ? x.numel() / a : 0});
      })
      .Case<SqueezeOp>([&](auto) -> R {
        const Tensor &x = ctx.in(0);
        std::vector<int64_t> axes;
        if (ctx.has(1))
          for (int64_t a : toInts(ctx.in(1)))
            axes.push_back(normAxis(a, x.rank()));
        std::vector<int64_t> shape;
        for (int64_t d = 0; d < x.rank(); ++d) {
          bool listed = llvm::is_contained(axes, d);
          if (listed && x.shape[d] != 1)
            return ctx.fail("cannot squeeze dimension " + std::to_string(d) +
                            " of size " + std::to_string(x.shape[d]));
          if (listed || (axes.empty() && x.shape[d] == 1))
            continue;
          shape.push_back(x.shape[d]);
        }
        return reshapeTo(ctx, x, shape);
      })
      .Case<UnsqueezeOp>([&](auto) -> R {
        const Tensor &x = ctx.in(0);
        std::vector<int64_t> axes = toInts(ctx.in(1));
        int64_t rank = x.rank() + axes.size();
        for (int64_t &a : axes)
          a = normAxis(a, rank);
        std::vector<int64_t> shape;
        for (int64_t d = 0, next = 0; d < rank; ++d)
          shape.push_back(llvm::is_contained(axes, d) ? 1 : x.shape[next++]);
        return reshapeTo(ctx, x, shape);
      })
      .Case<DropoutOp>([&](auto) -> R {
        const Tensor &x = ctx.in(0);
        Tensor &out = ctx.emit(x.shape, 0);
        out.floats = x.floats;
        out.ints = x.ints;
        Tensor &mask = ctx.emit(x.shape, 1);
        std::fill(mask.ints.begin(), mask.ints.end(), 1);
        return true;
      })
      .Case<TransposeOp>([&](TransposeOp op) -> R {
        const Tensor &x = ctx.in(0);
        std::vector<int64_t> perm;
        if (auto p = op.getPerm())
          perm.assign(p->begin(), p->end());
        else
          for (int64_t i = x.rank() - 1; i >= 0; --i)
            perm.push_back(i);
        return transpose(ctx, x, perm);
      })
      .Case<ConcatOp>([&](ConcatOp op) -> R {
        const Tensor &first = ctx.in(0);
        int64_t axis = normAxis(op.getAxis(), first.rank());
        std::vector<int64_t> shape = first.shape;
        shape[axis] = 0;
        for (const Tensor *t : ctx.inputs) {
          if (t->rank() != first.rank())
            return ctx.fail("inputs have different ranks");
          for (int64_t d = 0; d < first.rank(); ++d)
            if (d != axis && t->shape[d] != first.shape[d])
              return ctx.fail("inputs differ in dimension " +
                              std::to_string(d) + ": " + first.shapeString() +
                              " and " + t->shapeString());
          shape[axis] += t->shape[axis];
        }
        Tensor &out = ctx.emit(shape);
        int64_t at = 0;
        for (const Tensor *t : ctx.inputs) {
          copyBlock(*t, out, axis, 0, at, t->shape[axis]);
          at += t->shape[axis];
        }
        return true;
      })
      .Case<SplitOp>([&](SplitOp op) -> R {
        const Tensor &x = ctx.in(0);
        int64_t axis = normAxis(op.getAxis(), x.rank());
        int64_t n = op->getNumResults(), dim = x.shape[axis];
        std::vector<int64_t> sizes;
        if (ctx.has(1)) {
          sizes = toInts(ctx.in(1));
        } else {
          int64_t chunk = (dim + n - 1) / n;
          for (int64_t i = 0; i < n; ++i)
            sizes.push_back(
                std::max<int64_t>(0, std::min(chunk, dim - chunk * i)));
        }
        if (int64_t(sizes.size()) != n ||
            std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) != dim)
          return ctx.fail("split sizes do not add up to the axis size " +
                          std::to_string(dim));
        int64_t at = 0;
        for (int64_t i = 0; i < n; ++i) {
          std::vector<int64_t> shape = x.shape;
          shape[axis] = sizes[i];
          Tensor &out = ctx.emit(shape, i);
          copyBlock(x, out, axis, at, 0, sizes[i]);
          at += sizes[i];
        }
        return true;
      })
      .Case<SliceOp>([&](auto) -> R { return slice(ctx); })
      .Case<ExpandOp>([&](auto) -> R { return expandOrTile(ctx, false); })
      .Case<TileOp>([&](auto) -> R { return expandOrTile(ctx, true); })
      .Case<GatherOp>(
          [&](GatherOp op) -> R { return gather(ctx, op.getAxis()); })
      .Case<GatherElementsOp>([&](GatherElementsOp op) -> R {
        const Tensor &x = ctx.in(0), &idx = ctx.in(1);
        Tensor &out = ctx.emit(idx.shape);
        return elementsIndex(
            ctx, x, idx, normAxis(op.getAxis(), x.rank()),
            [&](int64_t i, int64_t off) { copyElem(x, off, out, i); });
      })
      .Case<ScatterElementsOp>([&](ScatterElementsOp op) -> R {
        const Tensor &x = ctx.in(0), &idx = ctx.in(1), &upd = ctx.in(2);
        Tensor &out = ctx.emit(x.shape);
        out.floats = x.floats;
        out.ints = x.ints;
        StringRef reduction = op.getReduction();
        return elementsIndex(ctx, x, idx, normAxis(op.getAxis(), x.rank()),
                             [&](int64_t i, int64_t off) {
                               reduceInto(out, off, upd.at(i), reduction);
                             });
      })
      .Case<GatherNDOp>(
          [&](GatherNDOp op) -> R { return gatherND(ctx, op.getBatchDims()); })
      .Case<ScatterNDOp>([&](ScatterNDOp op) -> R {
        return scatterND(ctx, op.getReduction());
      })
      .Case<RangeOp>([&](auto) -> R {
        double s = ctx.in(0).at(0), l = ctx.in(1).at(0), d = ctx.in(2).at(0);
        if (d == 0)
          return ctx.fail("delta is 0");
        int64_t n = std::max<int64_t>(0, int64_t(std::ceil((l - s) / d)));
        Tensor &out = ctx.emit({n});
        for (int64_t i = 0; i < n; ++i) {
          if (out.isFloat())
            out.floats[i] = float(s + i * d);
          else
            out.ints[i] = int64_t(s) + i * int64_t(d);
        }
        return true;
      })
      .Case<CumSumOp>([&](CumSumOp op) -> R { return cumsum(ctx, op); })
      .Case<TriluOp>([&](TriluOp op) -> R { return trilu(ctx, op.getUpper()); })
      .Case<OneHotOp>([&](OneHotOp op) -> R {
        const Tensor &idx = ctx.in(0);
        int64_t depth = int64_t(ctx.in(1).at(0));
        const Tensor &values = ctx.in(2);
        int64_t axis = normAxis(op.getAxis(), idx.rank() + 1);
        std::vector<int64_t> shape = idx.shape;
        shape.insert(shape.begin() + axis, depth);
        Tensor &out = ctx.emit(shape);
        int64_t inner = 1;
        for (int64_t d = axis; d < idx.rank(); ++d)
          inner *= idx.shape[d];
        for (int64_t i = 0, n = out.numel(); i < n; ++i) {
          int64_t o = i / (depth * inner), a = (i / inner) % depth,
                  k = i % inner;
          int64_t j = int64_t(idx.at(o * inner + k));
          if (j < 0)
            j += depth;
          copyElem(values, j == a ? 1 : 0, out, i);
        }
        return true;
      })
      .Case<NonZeroOp>([&](auto) -> R {
        const Tensor &x = ctx.in(0);
        std::vector<int64_t> hits;
        for (int64_t i = 0, n = x.numel(); i < n; ++i)
          if (x.at(i) != 0)
            hits.push_back(i);
        int64_t count = hits.size();
        Tensor &out = ctx.emit({x.rank(), count});
        std::vector<int64_t> strides = contiguousStrides(x.shape);
        for (int64_t h = 0; h < count; ++h)
          for (int64_t d = 0; d < x.rank(); ++d)
            out.ints[d * count + h] = (hits[h] / strides[d]) % x.shape[d];
        return true;
      })
      .Default([](Operation *) -> R { return std::nullopt; });
}
