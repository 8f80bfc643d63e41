//===- MathKernels.cpp - Matmul, normalisation and reduction kernels ------===//

#include "Kernels.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Parallel.h"
#include <cmath>
#include <map>
#include <numeric>

using namespace mlir;
using namespace kuai;
using namespace kuai::ref;

/// C[m, n] = sum_k A[m, k] * B[k, n] for row-major blocks. Rows are split
/// across threads and columns blocked so a slab of B stays in cache.
void kuai::ref::gemmBlock(const float *a, const float *b, float *c, int64_t m,
                          int64_t k, int64_t n) {
  constexpr int64_t kColBlock = 512, kRowBlock = 8;
  int64_t rowBlocks = (m + kRowBlock - 1) / kRowBlock;
  int64_t colBlocks = (n + kColBlock - 1) / kColBlock;
  llvm::parallelFor(0, rowBlocks * colBlocks, [&](size_t task) {
    int64_t rb = task / colBlocks, cb = task % colBlocks;
    int64_t j0 = cb * kColBlock, jn = std::min(n, j0 + kColBlock) - j0;
    float acc[kColBlock];
    for (int64_t i = rb * kRowBlock; i < std::min(m, (rb + 1) * kRowBlock);
         ++i) {
      std::fill_n(acc, jn, 0.0f);
      const float *arow = a + i * k;
      for (int64_t p = 0; p < k; ++p) {
        float av = arow[p];
        const float *brow = b + p * n + j0;
        for (int64_t j = 0; j < jn; ++j)
          acc[j] += av * brow[j];
      }
      std::copy_n(acc, jn, c + i * n + j0);
    }
  });
}

namespace {

bool matmul(KernelContext &ctx) {
  Tensor a = ctx.in(0), b = ctx.in(1);
  if (!a.isFloat() || !b.isFloat())
    return ctx.fail("integer MatMul is not supported");
  bool vecA = a.rank() == 1, vecB = b.rank() == 1;
  if (vecA)
    a.shape.insert(a.shape.begin(), 1);
  if (vecB)
    b.shape.push_back(1);
  int64_t m = a.shape[a.rank() - 2], k = a.shape.back();
  int64_t k2 = b.shape[b.rank() - 2], n = b.shape.back();
  if (k != k2)
    return ctx.fail("contraction dimensions differ: " +
                    ctx.in(0).shapeString() + " x " + ctx.in(1).shapeString());
  std::vector<int64_t> batchA(a.shape.begin(), a.shape.end() - 2);
  std::vector<int64_t> batchB(b.shape.begin(), b.shape.end() - 2), batch;
  if (!broadcastShapes({batchA, batchB}, batch))
    return ctx.fail("batch dimensions are not broadcastable");
  std::vector<int64_t> shape = batch;
  if (!vecA)
    shape.push_back(m);
  if (!vecB)
    shape.push_back(n);
  Tensor &out = ctx.emit(shape);
  std::vector<std::vector<int64_t>> strides = {broadcastStrides(batchA, batch),
                                               broadcastStrides(batchB, batch)};
  forEachBroadcast(batch, strides, [&](int64_t i, const int64_t *off) {
    gemmBlock(&a.floats[off[0] * m * k], &b.floats[off[1] * k * n],
              &out.floats[i * m * n], m, k, n);
  });
  return true;
}

Tensor transposed2D(const Tensor &t) {
  Tensor r(t.elementType, {t.shape[1], t.shape[0]});
  for (int64_t i = 0; i < t.shape[0]; ++i)
    for (int64_t j = 0; j < t.shape[1]; ++j)
      r.floats[j * t.shape[0] + i] = t.floats[i * t.shape[1] + j];
  return r;
}

bool gemm(KernelContext &ctx, GemmOp op) {
  Tensor a = op.getTransA() ? transposed2D(ctx.in(0)) : ctx.in(0);
  Tensor b = op.getTransB() ? transposed2D(ctx.in(1)) : ctx.in(1);
  int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1];
  if (b.shape[0] != k)
    return ctx.fail("contraction dimensions differ");
  Tensor &out = ctx.emit({m, n});
  gemmBlock(a.floats.data(), b.floats.data(), out.floats.data(), m, k, n);
  float alpha = op.getAlpha().convertToFloat(),
        beta = op.getBeta().convertToFloat();
  if (alpha != 1.0f)
    for (float &v : out.floats)
      v *= alpha;
  if (ctx.has(2)) {
    const Tensor &c = ctx.in(2);
    std::vector<int64_t> shape;
    if (!broadcastShapes({c.shape, out.shape}, shape) || shape != out.shape)
      return ctx.fail("C " + c.shapeString() + " does not broadcast to " +
                      out.shapeString());
    forEachBroadcast(out.shape, {broadcastStrides(c.shape, out.shape)},
                     [&](int64_t i, const int64_t *off) {
                       out.floats[i] += beta * float(c.at(off[0]));
                     });
  }
  return true;
}

/// Views a tensor as [outer, axisSize, inner] around `axis`.
struct AxisView {
  int64_t outer = 1, size = 1, inner = 1;
  AxisView(const std::vector<int64_t> &shape, int64_t axis) {
    for (int64_t i = 0; i < axis; ++i)
      outer *= shape[i];
    size = shape[axis];
    for (size_t i = axis + 1; i < shape.size(); ++i)
      inner *= shape[i];
  }
};

bool softmaxLike(KernelContext &ctx, int64_t axisAttr, int kind) {
  const Tensor &x = ctx.in(0);
  int64_t axis = normAxis(axisAttr, x.rank());
  Tensor &out = ctx.emit(x.shape);
  AxisView v(x.shape, axis);
  llvm::parallelFor(0, v.outer, [&](size_t o) {
    for (int64_t k = 0; k < v.inner; ++k) {
      auto at = [&](int64_t a) { return (o * v.size + a) * v.inner + k; };
      float mx = -INFINITY;
      int64_t arg = 0;
      for (int64_t a = 0; a < v.size; ++a)
        if (x.floats[at(a)] > mx) {
          mx = x.floats[at(a)];
          arg = a;
        }
      if (kind == 2) { // hardmax
        for (int64_t a = 0; a < v.size; ++a)
          out.floats[at(a)] = a == arg ? 1.0f : 0.0f;
        continue;
      }
      double sum = 0;
      for (int64_t a = 0; a < v.size; ++a)
        sum += std::exp(x.floats[at(a)] - mx);
      for (int64_t a = 0; a < v.size; ++a)
        out.floats[at(a)] = kind == 0
                                ? float(std::exp(x.floats[at(a)] - mx) / sum)
                                : float(x.floats[at(a)] - mx - std::log(sum));
    }
  });
  return true;
}

bool layerNorm(KernelContext &ctx, LayerNormalizationOp op) {
  const Tensor &x = ctx.in(0), &scale = ctx.in(1);
  int64_t axis = normAxis(op.getAxis(), x.rank());
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= x.shape[i];
  for (int64_t i = axis; i < x.rank(); ++i)
    inner *= x.shape[i];
  std::vector<int64_t> inner_shape(x.shape.begin() + axis, x.shape.end());
  std::vector<int64_t> statShape = x.shape;
  for (int64_t i = axis; i < x.rank(); ++i)
    statShape[i] = 1;
  Tensor &y = ctx.emit(x.shape, 0);
  Tensor &mean = ctx.emit(statShape, 1);
  Tensor &inv = ctx.emit(statShape, 2);
  auto sStrides = broadcastStrides(scale.shape, inner_shape);
  std::vector<int64_t> bStrides;
  if (ctx.has(2))
    bStrides = broadcastStrides(ctx.in(2).shape, inner_shape);
  std::vector<int64_t> sIdx(inner), bIdx(inner, -1);
  forEachBroadcast(inner_shape, {sStrides},
                   [&](int64_t i, const int64_t *off) { sIdx[i] = off[0]; });
  if (ctx.has(2))
    forEachBroadcast(inner_shape, {bStrides},
                     [&](int64_t i, const int64_t *off) { bIdx[i] = off[0]; });
  float eps = op.getEpsilon().convertToFloat();
  llvm::parallelFor(0, outer, [&](size_t o) {
    const float *row = &x.floats[o * inner];
    double s = 0;
    for (int64_t i = 0; i < inner; ++i)
      s += row[i];
    double mu = s / inner, var = 0;
    for (int64_t i = 0; i < inner; ++i)
      var += (row[i] - mu) * (row[i] - mu);
    var /= inner;
    float r = float(1.0 / std::sqrt(var + eps));
    for (int64_t i = 0; i < inner; ++i) {
      float v = float(row[i] - mu) * r * scale.floats[sIdx[i]];
      if (bIdx[i] >= 0)
        v += ctx.in(2).floats[bIdx[i]];
      y.floats[o * inner + i] = v;
    }
    mean.floats[o] = float(mu);
    inv.floats[o] = r;
  });
  return true;
}

enum class Reduction {
  Sum,
  Mean,
  Max,
  Min,
  Prod,
  L1,
  L2,
  SumSquare,
  LogSum,
  LogSumExp
};

bool reduce(KernelContext &ctx, Reduction kind, bool keepdims,
            bool noopWithEmptyAxes) {
  const Tensor &x = ctx.in(0);
  std::vector<int64_t> axes;
  if (ctx.has(1))
    for (int64_t a : toInts(ctx.in(1))) {
      int64_t n = normAxis(a, x.rank());
      if (n < 0 || n >= x.rank())
        return ctx.fail("axes value " + std::to_string(a) +
                        " is out of range for rank " +
                        std::to_string(x.rank()));
      axes.push_back(n);
    }
  if (axes.empty()) {
    if (noopWithEmptyAxes) {
      Tensor &out = ctx.emit(x.shape);
      out.floats = x.floats;
      out.ints = x.ints;
      return true;
    }
    axes.resize(x.rank());
    std::iota(axes.begin(), axes.end(), 0);
  }
  std::vector<int64_t> keptShape = x.shape, outShape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    bool reduced = llvm::is_contained(axes, d);
    if (reduced)
      keptShape[d] = 1;
    if (!reduced)
      outShape.push_back(x.shape[d]);
    else if (keepdims)
      outShape.push_back(1);
  }
  Tensor &out = ctx.emit(outShape);
  int64_t n = product(keptShape);
  bool isMaxMin = kind == Reduction::Max || kind == Reduction::Min;
  std::vector<double> acc(n, kind == Reduction::Prod  ? 1.0
                             : kind == Reduction::Max ? -INFINITY
                             : kind == Reduction::Min ? INFINITY
                                                      : 0.0);
  std::vector<double> maxes;
  if (kind == Reduction::LogSumExp) {
    maxes.assign(n, -INFINITY);
    forEachBroadcast(x.shape, {broadcastStrides(keptShape, x.shape)},
                     [&](int64_t i, const int64_t *off) {
                       maxes[off[0]] = std::max(maxes[off[0]], x.at(i));
                     });
  }
  int64_t count = x.numel() / std::max<int64_t>(n, 1);
  forEachBroadcast(x.shape, {broadcastStrides(keptShape, x.shape)},
                   [&](int64_t i, const int64_t *off) {
                     double v = x.at(i), &a = acc[off[0]];
                     switch (kind) {
                     case Reduction::Max:
                       a = std::max(a, v);
                       break;
                     case Reduction::Min:
                       a = std::min(a, v);
                       break;
                     case Reduction::Prod:
                       a *= v;
                       break;
                     case Reduction::L1:
                       a += std::fabs(v);
                       break;
                     case Reduction::L2:
                     case Reduction::SumSquare:
                       a += v * v;
                       break;
                     case Reduction::LogSumExp:
                       a += std::exp(v - maxes[off[0]]);
                       break;
                     default:
                       a += v;
                       break;
                     }
                   });
  for (int64_t i = 0; i < n; ++i) {
    double a = acc[i];
    if (kind == Reduction::Mean)
      a /= count;
    else if (kind == Reduction::L2)
      a = std::sqrt(a);
    else if (kind == Reduction::LogSum)
      a = std::log(a);
    else if (kind == Reduction::LogSumExp)
      a = std::log(a) + maxes[i];
    if (x.numel() == 0 && isMaxMin && !out.isFloat())
      a = kind == Reduction::Max ? double(INT64_MIN) : double(INT64_MAX);
    if (out.isFloat())
      out.floats[i] = float(a);
    else
      out.ints[i] = wrapToIntType(out.elementType, int64_t(a));
  }
  return true;
}

bool argExtreme(KernelContext &ctx, int64_t axisAttr, bool keepdims,
                bool lastIndex, bool isMax) {
  const Tensor &x = ctx.in(0);
  int64_t axis = normAxis(axisAttr, x.rank());
  AxisView v(x.shape, axis);
  std::vector<int64_t> shape = x.shape;
  if (keepdims)
    shape[axis] = 1;
  else
    shape.erase(shape.begin() + axis);
  Tensor &out = ctx.emit(shape);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t k = 0; k < v.inner; ++k) {
      int64_t best = 0;
      double bv = x.at(o * v.size * v.inner + k);
      for (int64_t a = 1; a < v.size; ++a) {
        double c = x.at((o * v.size + a) * v.inner + k);
        bool better = isMax ? (c > bv || (lastIndex && c == bv))
                            : (c < bv || (lastIndex && c == bv));
        if (better) {
          bv = c;
          best = a;
        }
      }
      out.ints[o * v.inner + k] = best;
    }
  return true;
}

bool topk(KernelContext &ctx, TopKOp op) {
  const Tensor &x = ctx.in(0);
  int64_t k = toInts(ctx.in(1)).at(0);
  int64_t axis = normAxis(op.getAxis(), x.rank());
  AxisView v(x.shape, axis);
  if (k < 0 || k > v.size)
    return ctx.fail("k = " + std::to_string(k) +
                    " is out of range for an axis of size " +
                    std::to_string(v.size));
  std::vector<int64_t> shape = x.shape;
  shape[axis] = k;
  Tensor &values = ctx.emit(shape, 0);
  Tensor &indices = ctx.emit(shape, 1);
  bool largest = op.getLargest();
  std::vector<int64_t> order(v.size);
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t in = 0; in < v.inner; ++in) {
      auto at = [&](int64_t a) { return (o * v.size + a) * v.inner + in; };
      std::iota(order.begin(), order.end(), 0);
      // Ties keep the lower index first, as ONNX requires.
      std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
        double a = x.at(at(p)), b = x.at(at(q));
        return largest ? a > b : a < b;
      });
      for (int64_t j = 0; j < k; ++j) {
        int64_t to = (o * k + j) * v.inner + in;
        if (x.isFloat())
          values.floats[to] = x.floats[at(order[j])];
        else
          values.ints[to] = x.ints[at(order[j])];
        indices.ints[to] = order[j];
      }
    }
  return true;
}

/// Einsum by direct summation over all letters; correct for every equation,
/// fast enough for the reference role.
bool einsum(KernelContext &ctx, EinsumOp op) {
  std::string eq;
  for (char c : op.getEquation())
    if (!std::isspace(c))
      eq += c;
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms;
  size_t start = 0;
  while (true) {
    size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma - start));
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  // Replace "..." by capital letters unused in the equation, per input.
  size_t maxEll = 0;
  std::vector<std::string> expanded;
  for (size_t t = 0; t < terms.size(); ++t) {
    const std::string &term = terms[t];
    size_t dots = term.find("...");
    if (dots == std::string::npos) {
      expanded.push_back(term);
      continue;
    }
    size_t named = term.size() - 3;
    size_t nEll = ctx.in(t).rank() - named;
    maxEll = std::max(maxEll, nEll);
    std::string ell;
    for (size_t i = 0; i < nEll; ++i)
      ell += char('A' + (maxEll - nEll) + i);
    expanded.push_back(term.substr(0, dots) + ell + term.substr(dots + 3));
  }
  std::string ellAll;
  for (size_t i = 0; i < maxEll; ++i)
    ellAll += char('A' + i);
  std::string rhs;
  if (arrow != std::string::npos) {
    rhs = eq.substr(arrow + 2);
    size_t dots = rhs.find("...");
    if (dots != std::string::npos)
      rhs = rhs.substr(0, dots) + ellAll + rhs.substr(dots + 3);
  } else {
    std::map<char, int> counts;
    for (const std::string &t : terms)
      for (char c : t)
        if (c != '.')
          ++counts[c];
    rhs = ellAll;
    for (auto [c, n] : counts)
      if (n == 1)
        rhs += c;
  }
  std::map<char, int64_t> sizes;
  for (size_t t = 0; t < expanded.size(); ++t) {
    if (expanded[t].size() != size_t(ctx.in(t).rank()))
      return ctx.fail("term '" + terms[t] + "' does not match the input rank");
    for (size_t i = 0; i < expanded[t].size(); ++i) {
      int64_t d = ctx.in(t).shape[i];
      auto [it, inserted] = sizes.insert({expanded[t][i], d});
      if (!inserted && it->second != d) {
        if (it->second == 1)
          it->second = d;
        else if (d != 1)
          return ctx.fail("letter '" + std::string(1, expanded[t][i]) +
                          "' has inconsistent sizes");
      }
    }
  }
  std::vector<char> letters;
  for (auto [c, n] : sizes)
    letters.push_back(c);
  std::vector<int64_t> loop;
  for (char c : letters)
    loop.push_back(sizes[c]);
  std::vector<int64_t> outShape;
  for (char c : rhs)
    outShape.push_back(sizes[c]);
  Tensor &out = ctx.emit(outShape);
  auto stridesFor = [&](const std::string &term,
                        const std::vector<int64_t> &shape) {
    std::vector<int64_t> contiguous = contiguousStrides(shape),
                         s(letters.size(), 0);
    for (size_t i = 0; i < term.size(); ++i) {
      size_t l =
          std::find(letters.begin(), letters.end(), term[i]) - letters.begin();
      if (shape[i] != 1)
        s[l] += contiguous[i];
    }
    return s;
  };
  std::vector<std::vector<int64_t>> strides;
  for (size_t t = 0; t < expanded.size(); ++t)
    strides.push_back(stridesFor(expanded[t], ctx.in(t).shape));
  strides.push_back(stridesFor(rhs, outShape));
  std::vector<double> acc(out.numel(), 0.0);
  size_t nIn = expanded.size();
  forEachBroadcast(loop, strides, [&](int64_t, const int64_t *off) {
    double p = 1;
    for (size_t t = 0; t < nIn; ++t)
      p *= ctx.in(t).at(off[t]);
    acc[off[nIn]] += p;
  });
  for (int64_t i = 0; i < out.numel(); ++i) {
    if (out.isFloat())
      out.floats[i] = float(acc[i]);
    else
      out.ints[i] = int64_t(acc[i]);
  }
  return true;
}

template <typename Op>
bool reduceOp(KernelContext &ctx, Op op, Reduction kind) {
  return reduce(ctx, kind, op.getKeepdims(), op.getNoopWithEmptyAxes());
}

} // namespace

std::optional<bool> kuai::ref::evalMath(KernelContext &ctx) {
  using R = std::optional<bool>;
  return llvm::TypeSwitch<Operation *, R>(ctx.op)
      .Case<MatMulOp>([&](auto) -> R { return matmul(ctx); })
      .Case<GemmOp>([&](GemmOp op) -> R { return gemm(ctx, op); })
      .Case<EinsumOp>([&](EinsumOp op) -> R { return einsum(ctx, op); })
      .Case<SoftmaxOp>(
          [&](SoftmaxOp op) -> R { return softmaxLike(ctx, op.getAxis(), 0); })
      .Case<LogSoftmaxOp>([&](LogSoftmaxOp op) -> R {
        return softmaxLike(ctx, op.getAxis(), 1);
      })
      .Case<HardmaxOp>(
          [&](HardmaxOp op) -> R { return softmaxLike(ctx, op.getAxis(), 2); })
      .Case<LayerNormalizationOp>(
          [&](LayerNormalizationOp op) -> R { return layerNorm(ctx, op); })
      .Case<ReduceSumOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::Sum); })
      .Case<ReduceMeanOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::Mean); })
      .Case<ReduceMaxOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::Max); })
      .Case<ReduceMinOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::Min); })
      .Case<ReduceProdOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::Prod); })
      .Case<ReduceL1Op>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::L1); })
      .Case<ReduceL2Op>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::L2); })
      .Case<ReduceSumSquareOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::SumSquare); })
      .Case<ReduceLogSumOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::LogSum); })
      .Case<ReduceLogSumExpOp>(
          [&](auto op) -> R { return reduceOp(ctx, op, Reduction::LogSumExp); })
      .Case<ArgMaxOp>([&](ArgMaxOp op) -> R {
        return argExtreme(ctx, op.getAxis(), op.getKeepdims(),
                          op.getSelectLastIndex(), true);
      })
      .Case<ArgMinOp>([&](ArgMinOp op) -> R {
        return argExtreme(ctx, op.getAxis(), op.getKeepdims(),
                          op.getSelectLastIndex(), false);
      })
      .Case<TopKOp>([&](TopKOp op) -> R { return topk(ctx, op); })
      .Default([](Operation *) -> R { return std::nullopt; });
}
