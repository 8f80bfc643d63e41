//===- ElementwiseKernels.cpp - Unary, binary and variadic kernels --------===//

#include "Kernels.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"
#include <cmath>
#include <functional>

using namespace mlir;
using namespace kuai;
using namespace kuai::ref;

namespace {

using FloatFn = std::function<float(float)>;
using IntFn = std::function<int64_t(int64_t)>;

bool unary(KernelContext &ctx, FloatFn f, IntFn g = nullptr) {
  const Tensor &x = ctx.in(0);
  Tensor &out = ctx.emit(x.shape);
  if (x.isFloat() && out.isFloat()) {
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      out.floats[i] = f(x.floats[i]);
    return true;
  }
  if (x.isFloat()) { // float -> bool predicates
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      out.ints[i] = f(x.floats[i]) != 0.0f;
    return true;
  }
  if (!g)
    return ctx.fail("integer inputs are not supported by this op");
  for (int64_t i = 0, n = x.numel(); i < n; ++i)
    out.ints[i] = wrapToIntType(out.elementType, g(x.ints[i]));
  return true;
}

/// Broadcasting n-ary op; `f` sees the operands as doubles (exact for the
/// fp32 and int64 ranges the fixtures use) unless integer semantics differ.
bool nary(KernelContext &ctx, ArrayRef<const Tensor *> ins,
          const std::function<double(const double *)> &f,
          const std::function<int64_t(const int64_t *)> &g = nullptr) {
  std::vector<std::vector<int64_t>> shapes;
  for (const Tensor *t : ins)
    shapes.push_back(t->shape);
  std::vector<int64_t> shape;
  if (!broadcastShapes(shapes, shape))
    return ctx.fail("operand shapes are not broadcastable");
  Tensor &out = ctx.emit(shape);
  std::vector<std::vector<int64_t>> strides;
  for (const Tensor *t : ins)
    strides.push_back(broadcastStrides(t->shape, shape));
  bool allInt =
      llvm::all_of(ins, [](const Tensor *t) { return !t->isFloat(); });
  if (allInt && g) {
    std::vector<int64_t> args(ins.size());
    forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
      for (size_t k = 0; k < ins.size(); ++k)
        args[k] = ins[k]->ints[off[k]];
      out.ints[i] = wrapToIntType(out.elementType, g(args.data()));
    });
    return true;
  }
  std::vector<double> args(ins.size());
  bool fast = llvm::all_of(ins,
                           [&](const Tensor *t) {
                             return t->shape == shape && t->isFloat();
                           }) &&
              out.isFloat();
  if (fast) {
    for (int64_t i = 0, n = out.numel(); i < n; ++i) {
      for (size_t k = 0; k < ins.size(); ++k)
        args[k] = ins[k]->floats[i];
      out.floats[i] = float(f(args.data()));
    }
    return true;
  }
  forEachBroadcast(shape, strides, [&](int64_t i, const int64_t *off) {
    for (size_t k = 0; k < ins.size(); ++k)
      args[k] = ins[k]->at(off[k]);
    double r = f(args.data());
    if (out.isFloat())
      out.floats[i] = float(r);
    else
      out.ints[i] = wrapToIntType(out.elementType, int64_t(r));
  });
  return true;
}

bool binary(KernelContext &ctx, std::function<double(double, double)> f,
            std::function<int64_t(int64_t, int64_t)> g = nullptr) {
  const Tensor *ins[] = {&ctx.in(0), &ctx.in(1)};
  std::function<int64_t(const int64_t *)> gi;
  if (g)
    gi = [g](const int64_t *a) { return g(a[0], a[1]); };
  return nary(
      ctx, ins, [f](const double *a) { return f(a[0], a[1]); }, gi);
}

bool cast(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &out = ctx.emit(x.shape);
  for (int64_t i = 0, n = x.numel(); i < n; ++i) {
    if (out.isFloat()) {
      float v = x.isFloat() ? x.floats[i] : float(x.ints[i]);
      out.floats[i] = roundToFloatType(out.elementType, v);
    } else if (out.elementType.isInteger(1)) {
      out.ints[i] = x.at(i) != 0.0;
    } else if (x.isFloat()) {
      float v = x.floats[i];
      out.ints[i] = std::isnan(v) ? 0
                                  : wrapToIntType(out.elementType,
                                                  int64_t(std::trunc(v)));
    } else {
      out.ints[i] = wrapToIntType(out.elementType, x.ints[i]);
    }
  }
  return true;
}

int64_t intPow(int64_t b, int64_t e) {
  int64_t r = 1;
  for (; e > 0; --e)
    r *= b;
  return e < 0 ? 0 : r;
}

float gelu(float x, bool tanhApprox) {
  if (tanhApprox)
    return 0.5f * x *
           (1.0f +
            std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
  return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));
}

} // namespace

std::optional<bool> kuai::ref::evalElementwise(KernelContext &ctx) {
  using R = std::optional<bool>;
  auto un = [&](FloatFn f, IntFn g = nullptr) -> R { return unary(ctx, f, g); };
  auto bin = [&](std::function<double(double, double)> f,
                 std::function<int64_t(int64_t, int64_t)> g = nullptr) -> R {
    return binary(ctx, f, g);
  };
  return llvm::TypeSwitch<Operation *, R>(ctx.op)
      .Case<NegOp>([&](auto) {
        return un([](float x) { return -x; }, [](int64_t x) { return -x; });
      })
      .Case<AbsOp>([&](auto) {
        return un([](float x) { return std::fabs(x); },
                  [](int64_t x) { return x < 0 ? -x : x; });
      })
      .Case<SignOp>([&](auto) {
        return un([](float x) { return float((x > 0) - (x < 0)); },
                  [](int64_t x) { return int64_t((x > 0) - (x < 0)); });
      })
      .Case<ReluOp>([&](auto) {
        return un([](float x) { return x > 0 ? x : 0.0f; },
                  [](int64_t x) { return x > 0 ? x : 0; });
      })
      .Case<IdentityOp>([&](auto) {
        return un([](float x) { return x; }, [](int64_t x) { return x; });
      })
      .Case<ExpOp>(
          [&](auto) { return un([](float x) { return std::exp(x); }); })
      .Case<LogOp>(
          [&](auto) { return un([](float x) { return std::log(x); }); })
      .Case<SqrtOp>(
          [&](auto) { return un([](float x) { return std::sqrt(x); }); })
      .Case<ReciprocalOp>(
          [&](auto) { return un([](float x) { return 1.0f / x; }); })
      .Case<SigmoidOp>([&](auto) {
        return un([](float x) { return 1.0f / (1.0f + std::exp(-x)); });
      })
      .Case<TanhOp>(
          [&](auto) { return un([](float x) { return std::tanh(x); }); })
      .Case<ErfOp>(
          [&](auto) { return un([](float x) { return std::erf(x); }); })
      .Case<SinOp>(
          [&](auto) { return un([](float x) { return std::sin(x); }); })
      .Case<CosOp>(
          [&](auto) { return un([](float x) { return std::cos(x); }); })
      .Case<TanOp>(
          [&](auto) { return un([](float x) { return std::tan(x); }); })
      .Case<AsinOp>(
          [&](auto) { return un([](float x) { return std::asin(x); }); })
      .Case<AcosOp>(
          [&](auto) { return un([](float x) { return std::acos(x); }); })
      .Case<AtanOp>(
          [&](auto) { return un([](float x) { return std::atan(x); }); })
      .Case<SinhOp>(
          [&](auto) { return un([](float x) { return std::sinh(x); }); })
      .Case<CoshOp>(
          [&](auto) { return un([](float x) { return std::cosh(x); }); })
      .Case<AsinhOp>(
          [&](auto) { return un([](float x) { return std::asinh(x); }); })
      .Case<AcoshOp>(
          [&](auto) { return un([](float x) { return std::acosh(x); }); })
      .Case<AtanhOp>(
          [&](auto) { return un([](float x) { return std::atanh(x); }); })
      .Case<FloorOp>(
          [&](auto) { return un([](float x) { return std::floor(x); }); })
      .Case<CeilOp>(
          [&](auto) { return un([](float x) { return std::ceil(x); }); })
      .Case<RoundOp>([&](auto) {
        return un([](float x) { return std::nearbyint(x); }); // half to even
      })
      .Case<SoftplusOp>([&](auto) {
        return un([](float x) { return std::log1p(std::exp(x)); });
      })
      .Case<SoftsignOp>([&](auto) {
        return un([](float x) { return x / (1.0f + std::fabs(x)); });
      })
      .Case<HardSwishOp>([&](auto) {
        return un([](float x) {
          return x * std::max(0.0f, std::min(1.0f, x / 6.0f + 0.5f));
        });
      })
      .Case<NotOp>([&](auto) {
        return un(nullptr, [](int64_t x) { return int64_t(!x); });
      })
      .Case<IsNaNOp>([&](auto) {
        return un([](float x) { return float(std::isnan(x)); });
      })
      .Case<IsInfOp>([&](IsInfOp op) {
        bool neg = op.getDetectNegative(), pos = op.getDetectPositive();
        return un([=](float x) {
          return float(std::isinf(x) && ((x > 0 && pos) || (x < 0 && neg)));
        });
      })
      .Case<LeakyReluOp>([&](LeakyReluOp op) {
        float a = op.getAlpha().convertToFloat();
        return un([a](float x) { return x >= 0 ? x : a * x; });
      })
      .Case<EluOp>([&](EluOp op) {
        float a = op.getAlpha().convertToFloat();
        return un([a](float x) { return x >= 0 ? x : a * (std::exp(x) - 1); });
      })
      .Case<CeluOp>([&](CeluOp op) {
        float a = op.getAlpha().convertToFloat();
        return un([a](float x) {
          return std::max(0.0f, x) + std::min(0.0f, a * (std::exp(x / a) - 1));
        });
      })
      .Case<ThresholdedReluOp>([&](ThresholdedReluOp op) {
        float a = op.getAlpha().convertToFloat();
        return un([a](float x) { return x > a ? x : 0.0f; });
      })
      .Case<SeluOp>([&](SeluOp op) {
        float a = op.getAlpha().convertToFloat();
        float g = op.getGamma().convertToFloat();
        return un([a, g](float x) {
          return x > 0 ? g * x : g * (a * std::exp(x) - a);
        });
      })
      .Case<HardSigmoidOp>([&](HardSigmoidOp op) {
        float a = op.getAlpha().convertToFloat();
        float b = op.getBeta().convertToFloat();
        return un([a, b](float x) {
          return std::max(0.0f, std::min(1.0f, a * x + b));
        });
      })
      .Case<GeluOp>([&](GeluOp op) -> R {
        bool t = op.getApproximate() == "tanh";
        if (!t && op.getApproximate() != "none")
          return ctx.fail("unknown approximate mode '" +
                          op.getApproximate().str() + "'");
        return un([t](float x) { return gelu(x, t); });
      })
      .Case<AddOp>([&](auto) {
        return bin([](double a, double b) { return a + b; },
                   [](int64_t a, int64_t b) { return a + b; });
      })
      .Case<SubOp>([&](auto) {
        return bin([](double a, double b) { return a - b; },
                   [](int64_t a, int64_t b) { return a - b; });
      })
      .Case<MulOp>([&](auto) {
        return bin([](double a, double b) { return a * b; },
                   [](int64_t a, int64_t b) { return a * b; });
      })
      .Case<DivOp>([&](auto) -> R {
        bool zero = false;
        R r =
            bin([](double a, double b) { return double(float(a) / float(b)); },
                [&](int64_t a, int64_t b) {
                  if (b == 0) {
                    zero = true;
                    return int64_t(0);
                  }
                  return a / b;
                });
        if (zero)
          return ctx.fail("integer division by zero");
        return r;
      })
      .Case<PowOp>([&](auto) {
        return bin(
            [](double a, double b) {
              return double(std::pow(float(a), float(b)));
            },
            [](int64_t a, int64_t b) { return intPow(a, b); });
      })
      .Case<ModOp>([&](ModOp op) -> R {
        if (op.getFmod())
          return bin([](double a, double b) { return std::fmod(a, b); },
                     [](int64_t a, int64_t b) { return b ? a % b : 0; });
        if (ctx.in(0).isFloat())
          return ctx.fail("Mod with fmod=0 needs integer inputs");
        return bin(nullptr, [](int64_t a, int64_t b) {
          if (b == 0)
            return int64_t(0);
          int64_t r = a % b;
          return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
        });
      })
      .Case<PReluOp>([&](auto) {
        return bin([](double x, double s) { return x < 0 ? s * x : x; },
                   [](int64_t x, int64_t s) { return x < 0 ? s * x : x; });
      })
      .Case<EqualOp>([&](auto) {
        return bin([](double a, double b) { return double(a == b); },
                   [](int64_t a, int64_t b) { return int64_t(a == b); });
      })
      .Case<LessOp>([&](auto) {
        return bin([](double a, double b) { return double(a < b); },
                   [](int64_t a, int64_t b) { return int64_t(a < b); });
      })
      .Case<LessOrEqualOp>([&](auto) {
        return bin([](double a, double b) { return double(a <= b); },
                   [](int64_t a, int64_t b) { return int64_t(a <= b); });
      })
      .Case<GreaterOp>([&](auto) {
        return bin([](double a, double b) { return double(a > b); },
                   [](int64_t a, int64_t b) { return int64_t(a > b); });
      })
      .Case<GreaterOrEqualOp>([&](auto) {
        return bin([](double a, double b) { return double(a >= b); },
                   [](int64_t a, int64_t b) { return int64_t(a >= b); });
      })
      .Case<AndOp>([&](auto) {
        return bin(nullptr,
                   [](int64_t a, int64_t b) { return int64_t(a && b); });
      })
      .Case<OrOp>([&](auto) {
        return bin(nullptr,
                   [](int64_t a, int64_t b) { return int64_t(a || b); });
      })
      .Case<XorOp>([&](auto) {
        return bin(nullptr,
                   [](int64_t a, int64_t b) { return int64_t(!a != !b); });
      })
      .Case<MaxOp, MinOp, SumOp, MeanOp>([&](auto op) -> R {
        std::vector<const Tensor *> ins(ctx.inputs.begin(), ctx.inputs.end());
        size_t n = ins.size();
        bool isMax = isa<MaxOp>(op.getOperation());
        bool isMin = isa<MinOp>(op.getOperation());
        bool isMean = isa<MeanOp>(op.getOperation());
        auto f = [=](const double *a) {
          double r = a[0];
          for (size_t k = 1; k < n; ++k) {
            if (isMax)
              r = (std::isnan(a[k]) || a[k] > r) ? a[k] : r;
            else if (isMin)
              r = (std::isnan(a[k]) || a[k] < r) ? a[k] : r;
            else
              r += a[k];
          }
          return isMean ? r / n : r;
        };
        auto g = [=](const int64_t *a) {
          int64_t r = a[0];
          for (size_t k = 1; k < n; ++k)
            r = isMax   ? std::max(r, a[k])
                : isMin ? std::min(r, a[k])
                        : r + a[k];
          return isMean ? r / int64_t(n) : r;
        };
        return nary(ctx, ins, f, g);
      })
      .Case<WhereOp>([&](auto) -> R {
        const Tensor *ins[] = {&ctx.in(0), &ctx.in(1), &ctx.in(2)};
        return nary(
            ctx, ins, [](const double *a) { return a[0] != 0 ? a[1] : a[2]; },
            [](const int64_t *a) { return a[0] ? a[1] : a[2]; });
      })
      .Case<ClipOp>([&](auto) -> R {
        double lo = ctx.has(1) ? ctx.in(1).at(0) : -INFINITY;
        double hi = ctx.has(2) ? ctx.in(2).at(0) : INFINITY;
        const Tensor *ins[] = {&ctx.in(0)};
        int64_t ilo = ctx.has(1) ? int64_t(lo) : INT64_MIN;
        int64_t ihi = ctx.has(2) ? int64_t(hi) : INT64_MAX;
        return nary(
            ctx, ins,
            [=](const double *a) {
              return a[0] < lo ? lo : a[0] > hi ? hi : a[0];
            },
            [=](const int64_t *a) {
              return std::min(std::max(a[0], ilo), ihi);
            });
      })
      .Case<CastOp, CastLikeOp>([&](auto) -> R { return cast(ctx); })
      .Default([](Operation *) -> R { return std::nullopt; });
}
