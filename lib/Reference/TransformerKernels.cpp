//===- TransformerKernels.cpp - Reference kernels of transformer ops ------===//

#include "Kernels.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Parallel.h"
#include <cmath>

using namespace mlir;
using namespace kuai;
using namespace kuai::ref;

namespace {

bool linear(KernelContext &ctx, LinearOp op) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  bool t = op.getTransposeWeight();
  int64_t k = x.shape.back(), n = t ? w.shape[0] : w.shape[1];
  if ((t ? w.shape[1] : w.shape[0]) != k)
    return ctx.fail("input features " + std::to_string(k) +
                    " differ from the weight " + w.shapeString());
  std::vector<int64_t> shape = x.shape;
  shape.back() = n;
  Tensor &out = ctx.emit(shape);
  int64_t m = x.numel() / std::max<int64_t>(k, 1);
  const float *a = x.floats.data(), *b = w.floats.data();
  float *c = out.floats.data();
  if (!t) {
    gemmBlock(a, b, c, m, k, n);
  } else {
    // W is [n, k]: each output is a dot product of two contiguous rows.
    constexpr int64_t kRows = 4, kCols = 64;
    int64_t colBlocks = (n + kCols - 1) / kCols;
    llvm::parallelFor(
        0, ((m + kRows - 1) / kRows) * colBlocks, [&](size_t task) {
          int64_t i0 = (task / colBlocks) * kRows,
                  j0 = (task % colBlocks) * kCols;
          for (int64_t i = i0; i < std::min(m, i0 + kRows); ++i)
            for (int64_t j = j0; j < std::min(n, j0 + kCols); ++j) {
              const float *row = b + j * k, *xa = a + i * k;
              float acc = 0;
              for (int64_t p = 0; p < k; ++p)
                acc += xa[p] * row[p];
              c[i * n + j] = acc;
            }
        });
  }
  if (ctx.has(2)) {
    const Tensor &bias = ctx.in(2);
    if (bias.numel() != n)
      return ctx.fail("bias has " + std::to_string(bias.numel()) +
                      " values for " + std::to_string(n) + " outputs");
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[i * n + j] += bias.floats[j];
  }
  return true;
}

/// y = normalise(x) * weight + bias over the trailing `inner` elements.
bool normalize(KernelContext &ctx, int64_t inner, bool rms, float eps) {
  const Tensor &x = ctx.in(0);
  Tensor &out = ctx.emit(x.shape);
  const Tensor *w = ctx.has(1) ? &ctx.in(1) : nullptr;
  const Tensor *b = ctx.has(2) ? &ctx.in(2) : nullptr;
  if ((w && w->numel() != inner) || (b && b->numel() != inner))
    return ctx.fail("weight and bias must have " + std::to_string(inner) +
                    " elements");
  int64_t rows = x.numel() / std::max<int64_t>(inner, 1);
  llvm::parallelFor(0, rows, [&](size_t r) {
    const float *row = &x.floats[r * inner];
    double mean = 0, sq = 0;
    for (int64_t i = 0; i < inner; ++i)
      mean += row[i];
    mean = rms ? 0 : mean / inner;
    for (int64_t i = 0; i < inner; ++i)
      sq += (row[i] - mean) * (row[i] - mean);
    float scale = float(1.0 / std::sqrt(sq / inner + eps));
    for (int64_t i = 0; i < inner; ++i) {
      float v = float(row[i] - mean) * scale;
      if (w)
        v *= w->floats[i];
      if (b)
        v += b->floats[i];
      out.floats[r * inner + i] = v;
    }
  });
  return true;
}

float gelu(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678f)); }
float geluTanh(float x) {
  return 0.5f * x *
         (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}
float silu(float x) { return x / (1.0f + std::exp(-x)); }

bool rotary(KernelContext &ctx, RotaryOp op) {
  const Tensor &x = ctx.in(0);
  int64_t d = x.shape.back(), rank = x.rank();
  if (rank < 2)
    return ctx.fail("input must have rank >= 2");
  int64_t rd = op.getRotaryDim() ? op.getRotaryDim() : d, half = rd / 2;
  int64_t seq = x.shape[rank - 2];
  bool interleaved = op.getInterleaved();
  Tensor &out = ctx.emit(x.shape);
  out.floats = x.floats;
  // Angles as cos/sin tables broadcast to x's shape with rd features.
  std::vector<int64_t> tableShape = x.shape;
  tableShape.back() = rd;
  std::vector<int64_t> cosStrides, sinStrides;
  std::vector<float> freq;
  const Tensor *offset = ctx.has(3) ? &ctx.in(3) : nullptr;
  if (offset && (offset->rank() != 1 || offset->shape[0] != x.shape[0]))
    return ctx.fail("position_offset " + offset->shapeString() +
                    " is not [batch] of the input " + x.shapeString());
  if (auto f = op.getInvFreq()) {
    freq.assign(f->begin(), f->end());
  } else {
    cosStrides = broadcastStrides(ctx.in(1).shape, tableShape);
    sinStrides = broadcastStrides(ctx.in(2).shape, tableShape);
  }
  std::vector<int64_t> tableIndex(rank, 0);
  int64_t rows = x.numel() / d;
  for (int64_t r = 0; r < rows; ++r) {
    // Multi-index of this row (all dims but the last).
    int64_t rem = r;
    for (int64_t dim = rank - 2; dim >= 0; --dim) {
      tableIndex[dim] = rem % x.shape[dim];
      rem /= x.shape[dim];
    }
    auto angle = [&](int64_t j, bool wantSin) -> float {
      if (!freq.empty()) {
        int64_t position = tableIndex[rank - 2];
        if (offset)
          position += offset->ints[tableIndex[0]];
        float a = float(position) * freq[interleaved ? j / 2 : j % half];
        return wantSin ? std::sin(a) : std::cos(a);
      }
      const std::vector<int64_t> &s = wantSin ? sinStrides : cosStrides;
      int64_t off = s[rank - 1] * j;
      for (int64_t dim = 0; dim < rank - 1; ++dim)
        off += s[dim] * tableIndex[dim];
      return wantSin ? ctx.in(2).floats[off] : ctx.in(1).floats[off];
    };
    const float *in = &x.floats[r * d];
    float *o = &out.floats[r * d];
    for (int64_t j = 0; j < rd; ++j) {
      int64_t partner;
      float sign;
      if (interleaved) {
        partner = j ^ 1;
        sign = (j % 2 == 0) ? -1.0f : 1.0f;
      } else {
        partner = j < half ? j + half : j - half;
        sign = j < half ? -1.0f : 1.0f;
      }
      o[j] = in[j] * angle(j, false) + sign * in[partner] * angle(j, true);
    }
  }
  (void)seq;
  return true;
}

bool attention(KernelContext &ctx, AttentionOp op) {
  const Tensor &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  int64_t b = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], skv = k.shape[2], dv = v.shape[3];
  if (hkv == 0 || hq % hkv || k.shape[3] != d || v.shape[2] != skv ||
      k.shape[0] != b || v.shape[0] != b || v.shape[1] != hkv)
    return ctx.fail("query " + q.shapeString() + ", key " + k.shapeString() +
                    " and value " + v.shapeString() + " do not fit together");
  StringRef kind = op.getMaskKind();
  const Tensor *mask = ctx.has(3) ? &ctx.in(3) : nullptr;
  std::vector<int64_t> biasStrides;
  if (kind == "bias") {
    std::vector<int64_t> full = {b, hq, sq, skv}, shape;
    if (!broadcastShapes({mask->shape, full}, shape) || shape != full)
      return ctx.fail("mask " + mask->shapeString() +
                      " does not broadcast to the scores");
    biasStrides = broadcastStrides(mask->shape, full);
  }
  bool causal =
      kind == "causal" || kind == "sliding_window" || kind == "causal_padding";
  bool padding = kind == "padding" || kind == "causal_padding";
  if (padding &&
      (mask->rank() != 2 || mask->shape[0] != b || mask->shape[1] != skv))
    return ctx.fail("padding mask must be [batch, key length], got " +
                    mask->shapeString());
  int64_t window = kind == "sliding_window" ? op.getWindow() : 0;
  float scale = op.getScale().convertToFloat();
  Tensor &out = ctx.emit({b, hq, sq, dv});
  int64_t group = hq / hkv, shift = skv - sq;
  llvm::parallelFor(0, b * hq, [&](size_t bh) {
    int64_t bi = bh / hq, h = bh % hq, hk = h / group;
    const float *qb = &q.floats[(bi * hq + h) * sq * d];
    const float *kb = &k.floats[(bi * hkv + hk) * skv * d];
    const float *vb = &v.floats[(bi * hkv + hk) * skv * dv];
    float *ob = &out.floats[(bi * hq + h) * sq * dv];
    std::vector<float> scores(skv);
    for (int64_t i = 0; i < sq; ++i) {
      float mx = -INFINITY;
      for (int64_t j = 0; j < skv; ++j) {
        bool visible = true;
        if (causal)
          visible = j <= i + shift && (!window || i + shift - j < window);
        if (padding)
          visible = visible && mask->at(bi * skv + j) != 0;
        float s = -INFINITY;
        if (visible) {
          float acc = 0;
          for (int64_t p = 0; p < d; ++p)
            acc += qb[i * d + p] * kb[j * d + p];
          s = acc * scale;
          if (!biasStrides.empty())
            s += float(mask->at(bi * biasStrides[0] + h * biasStrides[1] +
                                i * biasStrides[2] + j * biasStrides[3]));
        }
        scores[j] = s;
        mx = std::max(mx, s);
      }
      float *o = &ob[i * dv];
      std::fill_n(o, dv, 0.0f);
      if (mx == -INFINITY)
        continue; // every key masked: zeros
      double sum = 0;
      for (int64_t j = 0; j < skv; ++j)
        sum += scores[j] = std::exp(scores[j] - mx);
      for (int64_t j = 0; j < skv; ++j) {
        float p = float(scores[j] / sum);
        for (int64_t c = 0; c < dv; ++c)
          o[c] += p * vb[j * dv + c];
      }
    }
  });
  return true;
}

bool pagedAttention(KernelContext &ctx, PagedAttentionOp op) {
  const Tensor &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  const Tensor &table = ctx.in(5), &past = ctx.in(6);
  int64_t b = q.shape[0], hq = q.shape[1], sq = q.shape[2], d = q.shape[3];
  int64_t hkv = k.shape[1], dv = v.shape[3];
  int64_t pages = ctx.in(3).shape[0], page = ctx.in(3).shape[2];
  int64_t blocks = table.shape[1];
  if (table.shape[0] != b || past.shape[0] != b)
    return ctx.fail("block_table " + table.shapeString() +
                    " and past_lengths " + past.shapeString() +
                    " must have one row per sequence of " + q.shapeString());
  Tensor &kc = ctx.emit(ctx.in(3).shape, 1), &vc = ctx.emit(ctx.in(4).shape, 2);
  kc.floats = ctx.in(3).floats;
  vc.floats = ctx.in(4).floats;
  // Token row of position t of sequence bi in kv head 0 of its page.
  auto slot = [&](int64_t bi, int64_t t) {
    return table.ints[bi * blocks + t / page] * hkv * page + t % page;
  };
  for (int64_t bi = 0; bi < b; ++bi) {
    int64_t length = past.ints[bi] + sq;
    if (past.ints[bi] < 0)
      return ctx.fail("sequence " + std::to_string(bi) +
                      " has a negative past length");
    if ((length + page - 1) / page > blocks)
      return ctx.fail("sequence " + std::to_string(bi) + " needs " +
                      std::to_string((length + page - 1) / page) +
                      " pages of " + std::to_string(page) +
                      " tokens; its block table has " + std::to_string(blocks));
    for (int64_t blk = 0; blk < (length + page - 1) / page; ++blk)
      if (int64_t p = table.ints[bi * blocks + blk]; p < 0 || p >= pages)
        return ctx.fail("sequence " + std::to_string(bi) + " block " +
                        std::to_string(blk) + " names page " +
                        std::to_string(p) + " of " + std::to_string(pages));
    for (int64_t h = 0; h < hkv; ++h)
      for (int64_t i = 0; i < sq; ++i) {
        int64_t s = slot(bi, past.ints[bi] + i) + h * page;
        std::copy_n(&k.floats[((bi * hkv + h) * sq + i) * d], d,
                    &kc.floats[s * d]);
        std::copy_n(&v.floats[((bi * hkv + h) * sq + i) * dv], dv,
                    &vc.floats[s * dv]);
      }
  }
  int64_t window = op.getMaskKind() == "sliding_window" ? op.getWindow() : 0;
  float scale = op.getScale().convertToFloat();
  Tensor &out = ctx.emit({b, hq, sq, dv});
  int64_t group = hq / hkv;
  llvm::parallelFor(0, b * hq, [&](size_t bh) {
    int64_t bi = bh / hq, h = bh % hq, hk = h / group;
    std::vector<float> scores;
    for (int64_t i = 0; i < sq; ++i) {
      int64_t t = past.ints[bi] + i,
              first = window ? std::max<int64_t>(0, t - window + 1) : 0;
      const float *qi = &q.floats[((bi * hq + h) * sq + i) * d];
      scores.assign(t + 1 - first, 0.0f);
      float mx = -INFINITY;
      for (int64_t j = first; j <= t; ++j) {
        const float *kj = &kc.floats[(slot(bi, j) + hk * page) * d];
        float acc = 0;
        for (int64_t p = 0; p < d; ++p)
          acc += qi[p] * kj[p];
        scores[j - first] = acc * scale;
        mx = std::max(mx, scores[j - first]);
      }
      double sum = 0;
      for (float &sc : scores)
        sum += sc = std::exp(sc - mx);
      float *o = &out.floats[((bi * hq + h) * sq + i) * dv];
      std::fill_n(o, dv, 0.0f);
      for (int64_t j = first; j <= t; ++j) {
        float p = float(scores[j - first] / sum);
        const float *vj = &vc.floats[(slot(bi, j) + hk * page) * dv];
        for (int64_t c = 0; c < dv; ++c)
          o[c] += p * vj[c];
      }
    }
  });
  return true;
}

/// rows x [m, k] times W ([k, n], or [n, k] when transposed) into y [m, n].
void matmulRows(const float *x, const Tensor &w, bool transposed, int64_t m,
                int64_t k, float *y) {
  int64_t n = transposed ? w.shape[0] : w.shape[1];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t p = 0; p < k; ++p)
        acc += x[i * k + p] *
               (transposed ? w.floats[j * k + p] : w.floats[p * n + j]);
      y[i * n + j] = acc;
    }
}

bool moe(KernelContext &ctx, MoeOp op) {
  const Tensor &x = ctx.in(0), &router = ctx.in(1);
  int64_t d = x.shape.back(), tokens = x.numel() / std::max<int64_t>(d, 1);
  int64_t experts = (ctx.inputs.size() - 2) / 3, k = op.getTopK();
  bool rt = op.getRouterTransposed(), et = op.getExpertsTransposed();
  auto act = op.getActivation() == "silu"   ? silu
             : op.getActivation() == "gelu" ? gelu
                                            : geluTanh;
  Tensor &out = ctx.emit(x.shape);
  llvm::parallelFor(0, tokens, [&](size_t t) {
    const float *row = &x.floats[t * d];
    std::vector<float> logits(experts);
    matmulRows(row, router, rt, 1, d, logits.data());
    float mx = *std::max_element(logits.begin(), logits.end());
    std::vector<double> prob(experts);
    double sum = 0;
    for (int64_t e = 0; e < experts; ++e)
      sum += prob[e] = std::exp(double(logits[e]) - mx);
    std::vector<int64_t> order(experts);
    for (int64_t e = 0; e < experts; ++e) {
      prob[e] /= sum;
      order[e] = e;
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return prob[a] > prob[b]; });
    double chosen = 0;
    for (int64_t i = 0; i < k; ++i)
      chosen += prob[order[i]];
    float *o = &out.floats[t * d];
    std::fill_n(o, d, 0.0f);
    for (int64_t i = 0; i < k; ++i) {
      int64_t e = order[i];
      float weight = float(op.getNormalize() ? prob[e] / chosen : prob[e]);
      const Tensor &gate = ctx.in(2 + 3 * e), &up = ctx.in(3 + 3 * e),
                   &down = ctx.in(4 + 3 * e);
      int64_t f = et ? gate.shape[0] : gate.shape[1];
      std::vector<float> g(f), u(f), y(d);
      matmulRows(row, gate, et, 1, d, g.data());
      matmulRows(row, up, et, 1, d, u.data());
      for (int64_t j = 0; j < f; ++j)
        g[j] = act(g[j]) * u[j];
      matmulRows(g.data(), down, et, 1, f, y.data());
      for (int64_t j = 0; j < d; ++j)
        o[j] += weight * y[j];
    }
  });
  return true;
}

} // namespace

std::optional<bool> kuai::ref::evalTransformer(KernelContext &ctx) {
  using R = std::optional<bool>;
  return llvm::TypeSwitch<Operation *, R>(ctx.op)
      .Case<LinearOp>([&](LinearOp op) -> R { return linear(ctx, op); })
      .Case<RmsNormOp>([&](RmsNormOp op) -> R {
        return normalize(ctx, ctx.in(0).shape.back(), true,
                         op.getEpsilon().convertToFloat());
      })
      .Case<LayerNormOp>([&](LayerNormOp op) -> R {
        const Tensor &x = ctx.in(0);
        int64_t axis = normAxis(op.getAxis(), x.rank()), inner = 1;
        for (int64_t i = axis; i < x.rank(); ++i)
          inner *= x.shape[i];
        return normalize(ctx, inner, false, op.getEpsilon().convertToFloat());
      })
      .Case<SiluOp>([&](auto) -> R {
        const Tensor &x = ctx.in(0);
        Tensor &out = ctx.emit(x.shape);
        for (int64_t i = 0, n = x.numel(); i < n; ++i)
          out.floats[i] = silu(x.floats[i]);
        return true;
      })
      .Case<GluOp>([&](GluOp op) -> R {
        const Tensor &g = ctx.in(0), &u = ctx.in(1);
        if (g.shape != u.shape)
          return ctx.fail("gate " + g.shapeString() + " and up " +
                          u.shapeString() + " differ");
        auto act = op.getActivation() == "silu"   ? silu
                   : op.getActivation() == "gelu" ? gelu
                                                  : geluTanh;
        Tensor &out = ctx.emit(g.shape);
        for (int64_t i = 0, n = g.numel(); i < n; ++i)
          out.floats[i] = act(g.floats[i]) * u.floats[i];
        return true;
      })
      .Case<RotaryOp>([&](RotaryOp op) -> R { return rotary(ctx, op); })
      .Case<AttentionOp>(
          [&](AttentionOp op) -> R { return attention(ctx, op); })
      .Case<PagedAttentionOp>(
          [&](PagedAttentionOp op) -> R { return pagedAttention(ctx, op); })
      .Case<MoeOp>([&](MoeOp op) -> R { return moe(ctx, op); })
      .Case<EmbeddingOp>([&](EmbeddingOp) -> R {
        const Tensor &table = ctx.in(0), &ids = ctx.in(1);
        int64_t vocab = table.shape[0], dim = table.shape[1];
        std::vector<int64_t> shape = ids.shape;
        shape.push_back(dim);
        Tensor &out = ctx.emit(shape);
        for (int64_t i = 0, n = ids.numel(); i < n; ++i) {
          int64_t id = ids.ints[i];
          if (id < 0 || id >= vocab)
            return ctx.fail("token id " + std::to_string(id) +
                            " is outside the vocabulary of " +
                            std::to_string(vocab));
          std::copy_n(&table.floats[id * dim], dim, &out.floats[i * dim]);
        }
        return true;
      })
      .Default([](Operation *) -> R { return std::nullopt; });
}
