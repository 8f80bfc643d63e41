//===- ShapeInference.cpp - Result types of kuai graph ops ----------------===//
//
// One inference function per op category. Dimensions are symbolic
// expressions (SymExpr); shape operands are read when they are constants or
// `kuai.sym_tensor`s, which is what `kuai-fold-shapes` turns shape subgraphs
// into. When a rank cannot be known the result is an unranked tensor; the
// reference executor does not need static shapes.
//
//===----------------------------------------------------------------------===//

#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"
#include <numeric>

using namespace mlir;
using namespace kuai;

namespace {

using Dims = SmallVector<SymExpr>;

/// Collects result types and reports errors on the op being inferred.
class Inferrer {
public:
  Inferrer(Operation *op, SmallVectorImpl<Type> &types)
      : op(op), types(types) {}

  Operation *op;
  SmallVectorImpl<Type> &types;

  InFlightDiagnostic error() { return op->emitOpError(); }

  Type elem(Value v) { return cast<ShapedType>(v.getType()).getElementType(); }
  std::optional<Dims> dims(Value v) { return getSymDims(v.getType()); }

  LogicalResult result(Type elementType, std::optional<Dims> d) {
    if (d)
      types.push_back(makeTensorType(elementType, *d));
    else
      types.push_back(UnrankedTensorType::get(elementType));
    return success();
  }

  /// Normalises a possibly negative axis; emits an error when out of range.
  FailureOr<int64_t> axis(int64_t a, int64_t rank, StringRef what = "axis") {
    if (a < -rank || a >= rank) {
      error() << what << " " << a << " is out of range for rank " << rank;
      return failure();
    }
    return a < 0 ? a + rank : a;
  }

  /// Numpy broadcasting of two shapes.
  FailureOr<Dims> broadcast(const Dims &a, const Dims &b) {
    size_t rank = std::max(a.size(), b.size());
    Dims out(rank);
    for (size_t i = 0; i < rank; ++i) {
      SymExpr x =
          i < rank - a.size() ? SymExpr::constant(1) : a[i - (rank - a.size())];
      SymExpr y =
          i < rank - b.size() ? SymExpr::constant(1) : b[i - (rank - b.size())];
      auto cx = x.getConstant(), cy = y.getConstant();
      if (cx == 1)
        out[i] = y;
      else if (cy == 1)
        out[i] = x;
      else if (x == y)
        out[i] = x;
      else if (cx && cy) {
        error() << "operands are not broadcastable: dimension " << i << " is "
                << *cx << " and " << *cy;
        return failure();
      } else if (cx || cy)
        out[i] = cx ? x : y; // the other side must be 1 or equal at run time
      else
        out[i] = SymExpr();
    }
    return out;
  }

  /// Broadcast over all tensor operands; std::nullopt if one is unranked.
  FailureOr<std::optional<Dims>> broadcastAll(ValueRange values) {
    Dims out;
    for (Value v : values) {
      auto d = dims(v);
      if (!d)
        return std::optional<Dims>();
      auto b = broadcast(out, *d);
      if (failed(b))
        return failure();
      out = *b;
    }
    return std::optional<Dims>(out);
  }

  /// Axes of a reduction or squeeze operand, normalised and sorted.
  FailureOr<std::optional<SmallVector<int64_t>>> axesOperand(Value axes,
                                                             int64_t rank) {
    if (isa<NoneType>(axes.getType()))
      return std::optional<SmallVector<int64_t>>(SmallVector<int64_t>());
    auto values = getConstantInts(axes);
    if (!values)
      return std::optional<SmallVector<int64_t>>();
    SmallVector<int64_t> out;
    for (int64_t a : *values) {
      auto n = axis(a, rank, "axes value");
      if (failed(n))
        return failure();
      if (llvm::is_contained(out, *n)) {
        error() << "axes value " << a << " is repeated";
        return failure();
      }
      out.push_back(*n);
    }
    llvm::sort(out);
    return std::optional<SmallVector<int64_t>>(out);
  }
};

SymExpr product(ArrayRef<SymExpr> dims) {
  SymExpr p = SymExpr::constant(1);
  for (const SymExpr &d : dims)
    p = p * d;
  return p;
}

LogicalResult inferSameAsInput(Inferrer &in, Value v, Type elem = {}) {
  return in.result(elem ? elem : in.elem(v), in.dims(v));
}

LogicalResult inferBroadcast(Inferrer &in, ValueRange operands, Type elem) {
  if (operands.empty())
    return in.error() << "needs at least one input";
  auto d = in.broadcastAll(operands);
  if (failed(d))
    return failure();
  return in.result(elem, *d);
}

LogicalResult inferReshape(Inferrer &in, ReshapeOp op) {
  auto input = in.dims(op.getData());
  auto target = getShapeValues(op.getShape());
  auto shapeType = dyn_cast<RankedTensorType>(op.getShape().getType());
  if (!shapeType || shapeType.getRank() != 1)
    return in.error() << "shape must be a 1-D tensor";
  if (!target) {
    if (shapeType.isDynamicDim(0))
      return in.result(in.elem(op.getData()), std::nullopt);
    return in.result(in.elem(op.getData()),
                     Dims(shapeType.getDimSize(0), SymExpr()));
  }
  Dims out;
  int inferIndex = -1;
  for (auto [i, d] : llvm::enumerate(*target)) {
    auto c = d.getConstant();
    if (c == -1) {
      if (inferIndex >= 0)
        return in.error() << "shape has more than one -1";
      inferIndex = i;
      out.push_back(SymExpr());
    } else if (c == 0 && !op.getAllowzero()) {
      if (!input || i >= input->size())
        out.push_back(input ? SymExpr() : SymExpr());
      else
        out.push_back((*input)[i]);
      if (input && i >= input->size())
        return in.error() << "shape value 0 at index " << i
                          << " copies a dimension the input does not have";
    } else if (c && *c < -1) {
      return in.error() << "shape value " << *c << " is invalid";
    } else {
      out.push_back(d);
    }
  }
  if (input) {
    SymExpr total = product(*input);
    if (inferIndex >= 0) {
      Dims known(out);
      known.erase(known.begin() + inferIndex);
      out[inferIndex] = total.exactDiv(product(known));
    } else if (auto a = total.getConstant()) {
      if (auto b = product(out).getConstant(); b && *a != *b)
        return in.error() << "cannot reshape " << *a << " elements into " << *b;
    }
  }
  return in.result(in.elem(op.getData()), out);
}

LogicalResult inferSlice(Inferrer &in, SliceOp op) {
  auto input = in.dims(op.getData());
  if (!input)
    return in.result(in.elem(op.getData()), std::nullopt);
  int64_t rank = input->size();
  auto starts = getShapeValues(op.getStarts());
  auto ends = getShapeValues(op.getEnds());
  std::optional<SmallVector<int64_t>> axes, steps;
  if (!isa<NoneType>(op.getAxes().getType()))
    axes = getConstantInts(op.getAxes());
  if (!isa<NoneType>(op.getSteps().getType()))
    steps = getConstantInts(op.getSteps());
  bool axesKnown = isa<NoneType>(op.getAxes().getType()) || axes;
  bool stepsKnown = isa<NoneType>(op.getSteps().getType()) || steps;
  if (!starts || !ends || !axesKnown || !stepsKnown)
    return in.result(in.elem(op.getData()), Dims(rank, SymExpr()));
  if (starts->size() != ends->size() ||
      (axes && axes->size() != starts->size()) ||
      (steps && steps->size() != starts->size()))
    return in.error() << "starts, ends, axes and steps differ in length";
  Dims out = *input;
  for (size_t i = 0; i < starts->size(); ++i) {
    int64_t a = axes ? (*axes)[i] : i;
    auto ax = in.axis(a, rank, "axes value");
    if (failed(ax))
      return failure();
    int64_t step = steps ? (*steps)[i] : 1;
    if (step == 0)
      return in.error() << "slice step is 0";
    SymExpr dim = (*input)[*ax];
    auto dimC = dim.getConstant();
    auto sC = (*starts)[i].getConstant();
    auto eC = (*ends)[i].getConstant();
    if (dimC && sC && eC) {
      int64_t n = *dimC, s = *sC, e = *eC;
      auto clampIndex = [&](int64_t v, int64_t lo, int64_t hi) {
        if (v < 0)
          v += n;
        return std::clamp(v, lo, hi);
      };
      if (step > 0) {
        s = clampIndex(s, 0, n);
        e = clampIndex(e, 0, n);
        out[*ax] = SymExpr::constant(e > s ? (e - s + step - 1) / step : 0);
      } else {
        s = clampIndex(s, -1, n - 1);
        e = clampIndex(e, -1, n - 1);
        out[*ax] = SymExpr::constant(s > e ? (s - e - step - 1) / -step : 0);
      }
      continue;
    }
    // Symbolic cases that exports produce: x[s:] and x[s:E] with step 1.
    if (step == 1 && sC && *sC >= 0) {
      if (eC && *eC >= (int64_t(1) << 31)) {
        out[*ax] = *sC == 0 ? dim : dim - SymExpr::constant(*sC);
        continue;
      }
      if (!eC && (*ends)[i].isKnown()) {
        out[*ax] = (*ends)[i] - SymExpr::constant(*sC);
        continue;
      }
    }
    out[*ax] = SymExpr();
  }
  return in.result(in.elem(op.getData()), out);
}

LogicalResult inferSplit(Inferrer &in, SplitOp op) {
  auto input = in.dims(op.getInput());
  Type elem = in.elem(op.getInput());
  unsigned n = op->getNumResults();
  if (!input) {
    for (unsigned i = 0; i < n; ++i)
      (void)in.result(elem, std::nullopt);
    return success();
  }
  auto ax = in.axis(op.getAxis(), input->size());
  if (failed(ax))
    return failure();
  SmallVector<SymExpr> sizes;
  SymExpr dim = (*input)[*ax];
  if (!isa<NoneType>(op.getSplit().getType())) {
    auto split = getShapeValues(op.getSplit());
    if (split && split->size() != n)
      return in.error() << "split has " << split->size() << " sizes for " << n
                        << " outputs";
    for (unsigned i = 0; i < n; ++i)
      sizes.push_back(split ? (*split)[i] : SymExpr());
  } else {
    if (auto num = op.getNumOutputs(); num && *num != n)
      return in.error() << "num_outputs " << *num << " but the node has " << n
                        << " outputs";
    auto c = dim.getConstant();
    for (unsigned i = 0; i < n; ++i) {
      if (!c) {
        sizes.push_back(dim.exactDiv(SymExpr::constant(n)));
        continue;
      }
      // ONNX: ceil(dim / n) per chunk, the last one smaller.
      int64_t chunk = (*c + n - 1) / n;
      int64_t start = chunk * i;
      sizes.push_back(
          SymExpr::constant(std::max<int64_t>(0, std::min(chunk, *c - start))));
    }
  }
  for (const SymExpr &s : sizes) {
    Dims d = *input;
    d[*ax] = s;
    (void)in.result(elem, d);
  }
  return success();
}

LogicalResult inferConcat(Inferrer &in, ConcatOp op) {
  if (op.getInputs().empty())
    return in.error() << "needs at least one input";
  Type elem = in.elem(op.getInputs()[0]);
  std::optional<Dims> out;
  for (Value v : op.getInputs()) {
    if (in.elem(v) != elem)
      return in.error() << "inputs have different element types";
    auto d = in.dims(v);
    if (!d)
      return in.result(elem, std::nullopt);
    if (!out) {
      out = *d;
      auto ax = in.axis(op.getAxis(), d->size());
      if (failed(ax))
        return failure();
      continue;
    }
    if (d->size() != out->size())
      return in.error() << "inputs have different ranks (" << out->size()
                        << " and " << d->size() << ")";
    int64_t ax = op.getAxis() < 0 ? op.getAxis() + d->size() : op.getAxis();
    for (size_t i = 0; i < d->size(); ++i) {
      if (int64_t(i) == ax) {
        (*out)[i] = (*out)[i] + (*d)[i];
      } else if ((*out)[i] != (*d)[i]) {
        auto a = (*out)[i].getConstant(), b = (*d)[i].getConstant();
        if (a && b)
          return in.error() << "inputs differ in dimension " << i << " (" << *a
                            << " and " << *b << ")";
        if (!a)
          (*out)[i] = (*d)[i];
      }
    }
  }
  return in.result(elem, out);
}

LogicalResult inferGather(Inferrer &in, GatherOp op) {
  auto data = in.dims(op.getData());
  auto indices = in.dims(op.getIndices());
  if (!data || !indices)
    return in.result(in.elem(op.getData()), std::nullopt);
  auto ax = in.axis(op.getAxis(), data->size());
  if (failed(ax))
    return failure();
  Dims out(data->begin(), data->begin() + *ax);
  out.append(indices->begin(), indices->end());
  out.append(data->begin() + *ax + 1, data->end());
  return in.result(in.elem(op.getData()), out);
}

LogicalResult inferGatherND(Inferrer &in, GatherNDOp op) {
  auto data = in.dims(op.getData());
  auto indices = in.dims(op.getIndices());
  if (!data || !indices || indices->empty())
    return in.result(in.elem(op.getData()), std::nullopt);
  int64_t b = op.getBatchDims();
  auto last = indices->back().getConstant();
  if (!last)
    return in.result(in.elem(op.getData()), std::nullopt);
  if (b + *last > int64_t(data->size()))
    return in.error() << "index depth " << *last << " with batch_dims " << b
                      << " exceeds data rank " << data->size();
  Dims out(indices->begin(), indices->end() - 1);
  out.append(data->begin() + b + *last, data->end());
  return in.result(in.elem(op.getData()), out);
}

LogicalResult inferMatMul(Inferrer &in, MatMulOp op) {
  auto a = in.dims(op.getLhs()), b = in.dims(op.getRhs());
  Type elem = in.elem(op.getLhs());
  if (!a || !b)
    return in.result(elem, std::nullopt);
  if (a->empty() || b->empty())
    return in.error() << "operands must have rank >= 1";
  Dims x = *a, y = *b;
  bool vecA = x.size() == 1, vecB = y.size() == 1;
  if (vecA)
    x.insert(x.begin(), SymExpr::constant(1));
  if (vecB)
    y.push_back(SymExpr::constant(1));
  SymExpr k1 = x.back(), k2 = y[y.size() - 2];
  if (k1.getConstant() && k2.getConstant() && k1 != k2)
    return in.error() << "contraction dimensions differ (" << k1.str()
                      << " and " << k2.str() << ")";
  auto batch =
      in.broadcast(Dims(x.begin(), x.end() - 2), Dims(y.begin(), y.end() - 2));
  if (failed(batch))
    return failure();
  Dims out = *batch;
  if (!vecA)
    out.push_back(x[x.size() - 2]);
  if (!vecB)
    out.push_back(y.back());
  return in.result(elem, out);
}

LogicalResult inferGemm(Inferrer &in, GemmOp op) {
  auto a = in.dims(op.getA()), b = in.dims(op.getB());
  Type elem = in.elem(op.getA());
  if (!a || !b)
    return in.result(elem, std::nullopt);
  if (a->size() != 2 || b->size() != 2)
    return in.error() << "A and B must be 2-D";
  SymExpr m = op.getTransA() ? (*a)[1] : (*a)[0];
  SymExpr ka = op.getTransA() ? (*a)[0] : (*a)[1];
  SymExpr kb = op.getTransB() ? (*b)[1] : (*b)[0];
  SymExpr n = op.getTransB() ? (*b)[0] : (*b)[1];
  if (ka.getConstant() && kb.getConstant() && ka != kb)
    return in.error() << "contraction dimensions differ (" << ka.str()
                      << " and " << kb.str() << ")";
  return in.result(elem, Dims{m, n});
}

/// Einsum: letters of each input are matched with its dims; "..." covers the
/// leading unnamed dims and broadcasts.
LogicalResult inferEinsum(Inferrer &in, EinsumOp op) {
  std::string eq;
  for (char c : op.getEquation())
    if (!std::isspace(c))
      eq += c;
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  SmallVector<std::string> terms;
  llvm::SmallVector<StringRef> parts;
  StringRef(lhs).split(parts, ',');
  for (StringRef p : parts)
    terms.push_back(p.str());
  if (terms.size() != op.getInputs().size())
    return in.error() << "equation has " << terms.size()
                      << " operands but the op has " << op.getInputs().size();
  std::map<char, SymExpr> letters;
  std::map<char, int> counts;
  Dims ellipsis;
  Type elem = in.elem(op.getInputs()[0]);
  for (auto [term, value] : llvm::zip(terms, op.getInputs())) {
    auto d = in.dims(value);
    if (!d)
      return in.result(elem, std::nullopt);
    size_t dots = term.find("...");
    std::string named = term;
    if (dots != std::string::npos)
      named.erase(dots, 3);
    if (named.size() > d->size() ||
        (dots == std::string::npos && named.size() != d->size()))
      return in.error() << "term '" << term << "' does not match rank "
                        << d->size();
    size_t nEll = d->size() - named.size();
    Dims ell;
    size_t di = 0;
    for (size_t i = 0; i < term.size();) {
      if (term.compare(i, 3, "...") == 0) {
        for (size_t k = 0; k < nEll; ++k)
          ell.push_back((*d)[di++]);
        i += 3;
        continue;
      }
      char c = term[i++];
      SymExpr dim = (*d)[di++];
      ++counts[c];
      auto it = letters.find(c);
      if (it == letters.end() || it->second.getConstant() == 1)
        letters[c] = dim;
    }
    auto b = in.broadcast(ellipsis, ell);
    if (failed(b))
      return failure();
    ellipsis = *b;
  }
  std::string rhs;
  if (arrow != std::string::npos) {
    rhs = eq.substr(arrow + 2);
  } else {
    rhs = ellipsis.empty() ? "" : "...";
    for (auto [c, n] : counts)
      if (n == 1)
        rhs += c;
  }
  Dims out;
  for (size_t i = 0; i < rhs.size();) {
    if (rhs.compare(i, 3, "...") == 0) {
      out.append(ellipsis.begin(), ellipsis.end());
      i += 3;
      continue;
    }
    char c = rhs[i++];
    if (!letters.count(c))
      return in.error() << "output letter '" << c << "' is not in an input";
    out.push_back(letters[c]);
  }
  return in.result(elem, out);
}

LogicalResult inferReduce(Inferrer &in, Operation *op, Value data, Value axes,
                          bool keepdims, bool noopWithEmptyAxes, Type elem) {
  auto d = in.dims(data);
  if (!d)
    return in.result(elem, std::nullopt);
  auto ax = in.axesOperand(axes, d->size());
  if (failed(ax))
    return failure();
  if (!*ax)
    return in.result(elem, keepdims ? std::optional<Dims>(Dims(d->size()))
                                    : std::nullopt);
  SmallVector<int64_t> reduced = **ax;
  if (reduced.empty()) {
    if (noopWithEmptyAxes)
      return in.result(elem, d);
    reduced.resize(d->size());
    std::iota(reduced.begin(), reduced.end(), 0);
  }
  Dims out;
  for (size_t i = 0; i < d->size(); ++i) {
    if (!llvm::is_contained(reduced, int64_t(i)))
      out.push_back((*d)[i]);
    else if (keepdims)
      out.push_back(SymExpr::constant(1));
  }
  return in.result(elem, out);
}

LogicalResult inferExpandLike(Inferrer &in, Value input, Value shape,
                              bool tile) {
  auto d = in.dims(input);
  auto values = getShapeValues(shape);
  Type elem = in.elem(input);
  if (!values) {
    auto shapeType = dyn_cast<RankedTensorType>(shape.getType());
    if (tile && d)
      return in.result(elem, Dims(d->size()));
    if (!tile && d && shapeType && shapeType.hasStaticShape())
      return in.result(
          elem, Dims(std::max<int64_t>(d->size(), shapeType.getDimSize(0))));
    return in.result(elem, std::nullopt);
  }
  if (!d)
    return in.result(elem, std::nullopt);
  if (!tile) {
    auto b = in.broadcast(*d, *values);
    if (failed(b))
      return failure();
    return in.result(elem, *b);
  }
  if (values->size() != d->size())
    return in.error() << "repeats has " << values->size() << " values for rank "
                      << d->size();
  Dims out;
  for (auto [x, r] : llvm::zip(*d, *values))
    out.push_back(x * r);
  return in.result(elem, out);
}

LogicalResult inferRange(Inferrer &in, RangeOp op) {
  Type elem = in.elem(op.getStart());
  auto scalar = [](Value v) -> std::optional<SymExpr> {
    auto values = getShapeValues(v);
    if (values && values->size() == 1)
      return (*values)[0];
    return std::nullopt;
  };
  auto start = scalar(op.getStart()), limit = scalar(op.getLimit()),
       delta = scalar(op.getDelta());
  // Floating-point ranges are computed by the executor.
  if (!isa<IntegerType>(elem) || !start || !limit || !delta)
    return in.result(elem, Dims{SymExpr()});
  auto s = start->getConstant(), l = limit->getConstant(),
       d = delta->getConstant();
  if (d == 0)
    return in.error() << "delta is 0";
  if (s && l && d)
    return in.result(elem, Dims{SymExpr::constant(std::max<int64_t>(
                               0, (*l - *s + *d - (*d > 0 ? 1 : -1)) / *d))});
  if (d == 1)
    return in.result(elem, Dims{*limit - *start});
  return in.result(elem, Dims{SymExpr()});
}

LogicalResult inferUnsqueeze(Inferrer &in, UnsqueezeOp op) {
  auto d = in.dims(op.getData());
  auto axes = getConstantInts(op.getAxes());
  Type elem = in.elem(op.getData());
  if (!d || !axes)
    return in.result(elem, std::nullopt);
  int64_t rank = d->size() + axes->size();
  SmallVector<int64_t> normalized;
  for (int64_t a : *axes) {
    auto n = in.axis(a, rank, "axes value");
    if (failed(n))
      return failure();
    if (llvm::is_contained(normalized, *n))
      return in.error() << "axes value " << a << " is repeated";
    normalized.push_back(*n);
  }
  Dims out;
  size_t next = 0;
  for (int64_t i = 0; i < rank; ++i)
    out.push_back(llvm::is_contained(normalized, i) ? SymExpr::constant(1)
                                                    : (*d)[next++]);
  return in.result(elem, out);
}

LogicalResult inferSqueeze(Inferrer &in, SqueezeOp op) {
  auto d = in.dims(op.getData());
  Type elem = in.elem(op.getData());
  if (!d)
    return in.result(elem, std::nullopt);
  auto ax = in.axesOperand(op.getAxes(), d->size());
  if (failed(ax))
    return failure();
  if (!*ax)
    return in.result(elem, std::nullopt);
  Dims out;
  for (size_t i = 0; i < d->size(); ++i) {
    bool listed = llvm::is_contained(**ax, int64_t(i));
    auto c = (*d)[i].getConstant();
    if (listed && c && *c != 1)
      return in.error() << "cannot squeeze dimension " << i << " of size "
                        << *c;
    if ((*ax)->empty() && !c)
      return in.result(elem, std::nullopt); // which dims are 1 is unknown
    if (listed || ((*ax)->empty() && c == 1))
      continue;
    out.push_back((*d)[i]);
  }
  return in.result(elem, out);
}

LogicalResult inferTranspose(Inferrer &in, TransposeOp op) {
  auto d = in.dims(op.getData());
  Type elem = in.elem(op.getData());
  if (!d)
    return in.result(elem, std::nullopt);
  SmallVector<int64_t> perm;
  if (auto p = op.getPerm())
    perm.assign(p->begin(), p->end());
  else
    for (int64_t i = d->size() - 1; i >= 0; --i)
      perm.push_back(i);
  if (perm.size() != d->size())
    return in.error() << "perm has " << perm.size() << " entries for rank "
                      << d->size();
  Dims out;
  SmallVector<bool> seen(d->size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(d->size()) || seen[p])
      return in.error() << "perm is not a permutation of 0.." << d->size() - 1;
    seen[p] = true;
    out.push_back((*d)[p]);
  }
  return in.result(elem, out);
}

LogicalResult inferSoftmaxLike(Inferrer &in, Operation *op, Value input,
                               int64_t axis) {
  auto d = in.dims(input);
  if (d && failed(in.axis(axis, d->size())))
    return failure();
  return inferSameAsInput(in, input);
}

LogicalResult inferShapeOp(Inferrer &in, ShapeOp op) {
  Type i64 = IntegerType::get(op.getContext(), 64);
  auto d = in.dims(op.getData());
  if (!d)
    return in.result(i64, Dims{SymExpr()});
  int64_t rank = d->size();
  auto clampIndex = [&](int64_t v) {
    return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
  };
  int64_t start = clampIndex(op.getStart());
  int64_t end = clampIndex(op.getEnd().value_or(rank));
  return in.result(i64,
                   Dims{SymExpr::constant(std::max<int64_t>(0, end - start))});
}

} // namespace

LogicalResult kuai::inferResultTypes(Operation *op,
                                     SmallVectorImpl<Type> &types) {
  Inferrer in(op, types);
  for (Value v : op->getOperands())
    if (!isa<TensorType, NoneType>(v.getType()))
      return in.error() << "operands must be tensors";
  MLIRContext *ctx = op->getContext();
  Type i1 = IntegerType::get(ctx, 1), i64 = IntegerType::get(ctx, 64);
  return llvm::TypeSwitch<Operation *, LogicalResult>(op)
      .Case<ConstantOp>([&](auto c) {
        types.push_back(c.getValue().getType());
        return success();
      })
      .Case<SymTensorOp>([&](auto s) {
        auto t = dyn_cast<RankedTensorType>(s.getType());
        if (!t || !t.getElementType().isInteger(64) || !t.hasStaticShape() ||
            t.getNumElements() != int64_t(s.getValues().getDims().size()))
          return LogicalResult(in.error()
                               << "result must be a static i64 tensor with "
                                  "one element per value");
        types.push_back(t);
        return success();
      })
      .Case<IsNaNOp, IsInfOp>(
          [&](auto u) { return inferSameAsInput(in, u.getInput(), i1); })
      .Case<NegOp, AbsOp, ExpOp, LogOp, SqrtOp, ReciprocalOp, SigmoidOp, TanhOp,
            ErfOp, SinOp, CosOp, TanOp, AsinOp, AcosOp, AtanOp, SinhOp, CoshOp,
            AsinhOp, AcoshOp, AtanhOp, ReluOp, FloorOp, CeilOp, RoundOp, SignOp,
            SoftplusOp, SoftsignOp, HardSwishOp, NotOp, IdentityOp, LeakyReluOp,
            EluOp, CeluOp, ThresholdedReluOp, SeluOp, HardSigmoidOp, GeluOp,
            ClipOp, CumSumOp, TriluOp>(
          [&](auto u) { return inferSameAsInput(in, u->getOperand(0)); })
      .Case<AddOp, SubOp, MulOp, DivOp, PowOp, ModOp, PReluOp>([&](auto b) {
        return inferBroadcast(in, {b.getLhs(), b.getRhs()},
                              in.elem(b.getLhs()));
      })
      .Case<EqualOp, LessOp, LessOrEqualOp, GreaterOp, GreaterOrEqualOp, AndOp,
            OrOp, XorOp>([&](auto b) {
        return inferBroadcast(in, {b.getLhs(), b.getRhs()}, i1);
      })
      .Case<MaxOp, MinOp, SumOp, MeanOp>([&](auto v) {
        if (v.getInputs().empty())
          return LogicalResult(in.error() << "needs at least one input");
        return inferBroadcast(in, v.getInputs(), in.elem(v.getInputs()[0]));
      })
      .Case<WhereOp>([&](WhereOp w) {
        return inferBroadcast(in, w->getOperands(), in.elem(w.getX()));
      })
      .Case<CastOp>([&](CastOp c) {
        Type elem = getElementTypeForOnnx(ctx, c.getTo());
        if (!elem)
          return LogicalResult(in.error()
                               << "unsupported target data type " << c.getTo());
        return inferSameAsInput(in, c.getInput(), elem);
      })
      .Case<CastLikeOp>([&](CastLikeOp c) {
        return inferSameAsInput(in, c.getInput(), in.elem(c.getTargetType()));
      })
      .Case<DropoutOp>([&](DropoutOp d) {
        (void)inferSameAsInput(in, d.getData());
        return inferSameAsInput(in, d.getData(), i1);
      })
      .Case<ShapeOp>([&](ShapeOp s) { return inferShapeOp(in, s); })
      .Case<SizeOp>([&](SizeOp) { return in.result(i64, Dims{}); })
      .Case<ConstantOfShapeOp>([&](ConstantOfShapeOp c) {
        Type elem = c.getValue() ? c.getValue()->getElementType()
                                 : Type(Float32Type::get(ctx));
        if (auto values = getShapeValues(c.getShape()))
          return in.result(elem, *values);
        auto t = dyn_cast<RankedTensorType>(c.getShape().getType());
        if (t && t.hasStaticShape() && t.getRank() == 1)
          return in.result(elem, Dims(t.getDimSize(0)));
        return in.result(elem, std::nullopt);
      })
      .Case<ReshapeOp>([&](ReshapeOp r) { return inferReshape(in, r); })
      .Case<FlattenOp>([&](FlattenOp f) {
        auto d = in.dims(f.getInput());
        if (!d)
          return in.result(in.elem(f.getInput()), Dims(2));
        int64_t rank = d->size();
        int64_t axis = f.getAxis() < 0 ? f.getAxis() + rank : f.getAxis();
        if (axis < 0 || axis > rank)
          return LogicalResult(in.error()
                               << "axis " << f.getAxis()
                               << " is out of range for rank " << rank);
        return in.result(in.elem(f.getInput()),
                         Dims{product(ArrayRef(*d).take_front(axis)),
                              product(ArrayRef(*d).drop_front(axis))});
      })
      .Case<SqueezeOp>([&](SqueezeOp s) { return inferSqueeze(in, s); })
      .Case<UnsqueezeOp>([&](UnsqueezeOp u) { return inferUnsqueeze(in, u); })
      .Case<TransposeOp>([&](TransposeOp t) { return inferTranspose(in, t); })
      .Case<ConcatOp>([&](ConcatOp c) { return inferConcat(in, c); })
      .Case<SplitOp>([&](SplitOp s) { return inferSplit(in, s); })
      .Case<SliceOp>([&](SliceOp s) { return inferSlice(in, s); })
      .Case<ExpandOp>([&](ExpandOp e) {
        return inferExpandLike(in, e.getInput(), e.getShape(), false);
      })
      .Case<TileOp>([&](TileOp t) {
        return inferExpandLike(in, t.getInput(), t.getRepeats(), true);
      })
      .Case<GatherOp>([&](GatherOp g) { return inferGather(in, g); })
      .Case<GatherElementsOp>([&](GatherElementsOp g) {
        auto d = in.dims(g.getData());
        if (d && failed(in.axis(g.getAxis(), d->size())))
          return failure();
        return inferSameAsInput(in, g.getIndices(), in.elem(g.getData()));
      })
      .Case<GatherNDOp>([&](GatherNDOp g) { return inferGatherND(in, g); })
      .Case<ScatterElementsOp>([&](ScatterElementsOp s) {
        auto d = in.dims(s.getData());
        if (d && failed(in.axis(s.getAxis(), d->size())))
          return failure();
        return inferSameAsInput(in, s.getData());
      })
      .Case<ScatterNDOp>(
          [&](ScatterNDOp s) { return inferSameAsInput(in, s.getData()); })
      .Case<RangeOp>([&](RangeOp r) { return inferRange(in, r); })
      .Case<OneHotOp>([&](OneHotOp o) {
        auto d = in.dims(o.getIndices());
        Type elem = in.elem(o.getValues());
        if (!d)
          return in.result(elem, std::nullopt);
        auto ax = in.axis(o.getAxis(), d->size() + 1);
        if (failed(ax))
          return failure();
        auto depth = getShapeValues(o.getDepth());
        Dims out = *d;
        out.insert(out.begin() + *ax,
                   depth && depth->size() == 1 ? (*depth)[0] : SymExpr());
        return in.result(elem, out);
      })
      .Case<NonZeroOp>([&](NonZeroOp n) {
        auto d = in.dims(n.getInput());
        return in.result(
            i64, Dims{d ? SymExpr::constant(d->size()) : SymExpr(), SymExpr()});
      })
      .Case<MatMulOp>([&](MatMulOp m) { return inferMatMul(in, m); })
      .Case<GemmOp>([&](GemmOp g) { return inferGemm(in, g); })
      .Case<EinsumOp>([&](EinsumOp e) { return inferEinsum(in, e); })
      .Case<SoftmaxOp, LogSoftmaxOp, HardmaxOp>([&](auto s) {
        return inferSoftmaxLike(in, s, s.getInput(), s.getAxis());
      })
      .Case<LayerNormalizationOp>([&](LayerNormalizationOp l) {
        auto d = in.dims(l.getX());
        Type f32 = Float32Type::get(ctx);
        if (!d) {
          for (int i = 0; i < 3; ++i)
            (void)in.result(i ? f32 : in.elem(l.getX()), std::nullopt);
          return success();
        }
        auto ax = in.axis(l.getAxis(), d->size());
        if (failed(ax))
          return failure();
        (void)in.result(in.elem(l.getX()), d);
        Dims stats = *d;
        for (size_t i = *ax; i < stats.size(); ++i)
          stats[i] = SymExpr::constant(1);
        (void)in.result(f32, stats);
        return in.result(f32, stats);
      })
      .Case<ReduceSumOp, ReduceMeanOp, ReduceMaxOp, ReduceMinOp, ReduceProdOp,
            ReduceL1Op, ReduceL2Op, ReduceSumSquareOp, ReduceLogSumOp,
            ReduceLogSumExpOp>([&](auto r) {
        return inferReduce(in, r, r.getData(), r.getAxes(), r.getKeepdims(),
                           r.getNoopWithEmptyAxes(), in.elem(r.getData()));
      })
      .Case<ArgMaxOp, ArgMinOp>([&](auto a) {
        auto d = in.dims(a.getData());
        if (!d)
          return in.result(i64, std::nullopt);
        auto ax = in.axis(a.getAxis(), d->size());
        if (failed(ax))
          return LogicalResult(failure());
        Dims out = *d;
        if (a.getKeepdims())
          out[*ax] = SymExpr::constant(1);
        else
          out.erase(out.begin() + *ax);
        return in.result(i64, out);
      })
      .Case<TopKOp>([&](TopKOp t) {
        auto d = in.dims(t.getInput());
        Type elem = in.elem(t.getInput());
        if (!d) {
          (void)in.result(elem, std::nullopt);
          return in.result(i64, std::nullopt);
        }
        auto ax = in.axis(t.getAxis(), d->size());
        if (failed(ax))
          return failure();
        auto k = getShapeValues(t.getK());
        Dims out = *d;
        out[*ax] = k && k->size() == 1 ? (*k)[0] : SymExpr();
        if (auto kc = out[*ax].getConstant(), dc = (*d)[*ax].getConstant();
            kc && dc && *kc > *dc)
          return LogicalResult(in.error() << "k = " << *kc
                                          << " exceeds the axis size " << *dc);
        (void)in.result(elem, out);
        return in.result(i64, out);
      })
      .Default([&](Operation *o) {
        if (auto r = inferTransformerResultTypes(o, types))
          return *r;
        return LogicalResult(in.error() << "has no shape inference");
      });
}

LogicalResult kuai::updateResultTypes(Operation *op) {
  auto infer = dyn_cast<InferShapesOpInterface>(op);
  SmallVector<Type> types;
  if (!infer || failed(infer.inferResultTypes(types)))
    return failure();
  for (auto [result, type] : llvm::zip(op->getResults(), types))
    result.setType(type);
  return success();
}

LogicalResult kuai::verifyInferredTypes(Operation *op) {
  SmallVector<Type> inferred;
  if (failed(inferResultTypes(op, inferred)))
    return failure();
  if (inferred.size() != op->getNumResults())
    return op->emitOpError()
           << "has " << op->getNumResults() << " results but inference gives "
           << inferred.size();
  for (auto [i, declared, computed] :
       llvm::enumerate(op->getResultTypes(), inferred)) {
    auto d = cast<ShapedType>(declared), c = cast<ShapedType>(computed);
    if (d.getElementType() != c.getElementType())
      return op->emitOpError()
             << "result " << i << " has element type " << d.getElementType()
             << " but inference gives " << c.getElementType();
    auto dd = getSymDims(declared), cd = getSymDims(computed);
    if (!dd || !cd)
      continue;
    if (dd->size() != cd->size())
      return op->emitOpError() << "result " << i << " has rank " << dd->size()
                               << " but inference gives rank " << cd->size();
    for (auto [k, a, b] : llvm::enumerate(*dd, *cd))
      if (a.isKnown() && b.isKnown() && a != b)
        return op->emitOpError()
               << "result " << i << " dimension " << k << " is " << a.str()
               << " but inference gives " << b.str();
  }
  return success();
}
