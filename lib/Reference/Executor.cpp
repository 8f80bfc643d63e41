//===- Executor.cpp - Reference executor of kuai graph IR -----------------===//

#include "kuai/Reference/Executor.h"
#include "Kernels.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace kuai;
using namespace kuai::ref;
using llvm::Error;
using llvm::Expected;

Type KernelContext::resultElem(unsigned i) const {
  return cast<ShapedType>(op->getResult(i).getType()).getElementType();
}

Tensor &KernelContext::emit(std::vector<int64_t> shape, unsigned result) {
  assert(result < outputs.size() && "outputs are sized by evaluateOp");
  outputs[result] = Tensor(resultElem(result), std::move(shape));
  return outputs[result];
}

bool kuai::ref::broadcastShapes(ArrayRef<std::vector<int64_t>> shapes,
                                std::vector<int64_t> &out) {
  size_t rank = 0;
  for (const auto &s : shapes)
    rank = std::max(rank, s.size());
  out.assign(rank, 1);
  for (const auto &s : shapes)
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t &o = out[rank - s.size() + i];
      int64_t d = s[i];
      if (d == o || d == 1)
        continue;
      if (o != 1)
        return false;
      o = d;
    }
  return true;
}

std::vector<int64_t>
kuai::ref::contiguousStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int64_t i = int64_t(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::vector<int64_t>
kuai::ref::broadcastStrides(const std::vector<int64_t> &shape,
                            const std::vector<int64_t> &out) {
  std::vector<int64_t> contiguous = contiguousStrides(shape);
  std::vector<int64_t> strides(out.size(), 0);
  size_t lead = out.size() - shape.size();
  for (size_t i = 0; i < shape.size(); ++i)
    strides[lead + i] = shape[i] == 1 ? 0 : contiguous[i];
  return strides;
}

std::string kuai::ref::describeOp(Operation *op) {
  std::string name;
  if (auto nameLoc = dyn_cast<NameLoc>(op->getLoc()))
    name = nameLoc.getName().str();
  std::string kind = op->getName().getStringRef().str();
  if (auto onnx = op->getAttrOfType<StringAttr>("kuai.onnx_op"))
    kind = onnx.str();
  return "'" + kind + "'" + (name.empty() ? "" : " node \"" + name + "\"");
}

Error kuai::ref::evaluateOp(Operation *op, ArrayRef<const Tensor *> inputs,
                            std::vector<Tensor> &outputs,
                            const llvm::StringMap<int64_t> &symbols) {
  KernelContext ctx{op, inputs, outputs, symbols, {}};
  // Sized up front so references returned by emit() stay valid.
  outputs.clear();
  outputs.resize(op->getNumResults());
  std::optional<bool> ok = evalElementwise(ctx);
  if (!ok)
    ok = evalMovement(ctx);
  if (!ok)
    ok = evalMath(ctx);
  if (!ok)
    ok = evalTransformer(ctx);
  if (!ok)
    return llvm::createStringError(describeOp(op) +
                                   ": the reference executor has no kernel");
  if (!*ok)
    return llvm::createStringError(describeOp(op) + ": " + ctx.error);
  return Error::success();
}

Executor::Executor(func::FuncOp func) : func(func) {}

unsigned Executor::getNumInputs() const { return func.getNumArguments(); }
unsigned Executor::getNumOutputs() const { return func.getNumResults(); }
Type Executor::getInputType(unsigned i) const {
  return func.getArgument(i).getType();
}
std::string Executor::getInputName(unsigned i) const {
  if (auto name = func.getArgAttrOfType<StringAttr>(i, "kuai.name"))
    return name.str();
  return "input_" + std::to_string(i);
}
std::string Executor::getOutputName(unsigned i) const {
  if (auto name = func.getResultAttrOfType<StringAttr>(i, "kuai.name"))
    return name.str();
  return "output_" + std::to_string(i);
}

static std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

Error Executor::bindInputs(const std::vector<Tensor> &inputs,
                           llvm::StringMap<int64_t> &symbols) {
  if (inputs.size() != getNumInputs())
    return llvm::createStringError(
        "the model has " + std::to_string(getNumInputs()) + " inputs but " +
        std::to_string(inputs.size()) + " were given");
  // Plain symbols bind first; derived expressions are checked afterwards.
  for (int pass = 0; pass < 2; ++pass)
    for (unsigned i = 0; i < inputs.size(); ++i) {
      Type type = getInputType(i);
      std::string name = "input '" + getInputName(i) + "'";
      auto shaped = cast<ShapedType>(type);
      if (shaped.getElementType() != inputs[i].elementType)
        return llvm::createStringError(
            name + " has element type " + typeString(inputs[i].elementType) +
            " but the model expects " + typeString(shaped.getElementType()));
      auto dims = getSymDims(type);
      if (!dims)
        continue;
      if (int64_t(dims->size()) != inputs[i].rank())
        return llvm::createStringError(
            name + " has rank " + std::to_string(inputs[i].rank()) + " " +
            inputs[i].shapeString() + " but the model expects rank " +
            std::to_string(dims->size()) + " " + typeString(type));
      for (auto [d, expr] : llvm::enumerate(*dims)) {
        int64_t actual = inputs[i].shape[d];
        auto sym = expr.getSymbolName();
        if (pass == 0 && sym && !symbols.count(*sym)) {
          symbols[*sym] = actual;
          continue;
        }
        if (pass == 0)
          continue;
        if (auto expected = expr.evaluate(symbols);
            expected && *expected != actual)
          return llvm::createStringError(
              name + " dimension " + std::to_string(d) + " is " +
              std::to_string(actual) + " but the model expects " + expr.str() +
              " = " + std::to_string(*expected));
      }
    }
  return Error::success();
}

/// Checks an op result against its type: static dims and evaluable symbolic
/// dims must match what the kernel produced.
static Error checkResultShape(Operation *op, unsigned index, const Tensor &t,
                              const llvm::StringMap<int64_t> &symbols) {
  auto dims = getSymDims(op->getResult(index).getType());
  if (!dims)
    return Error::success();
  bool ok = int64_t(dims->size()) == t.rank();
  for (size_t d = 0; ok && d < dims->size(); ++d)
    if (auto v = (*dims)[d].evaluate(symbols); v && *v != t.shape[d])
      ok = false;
  if (ok)
    return Error::success();
  return llvm::createStringError(describeOp(op) + ": result " +
                                 std::to_string(index) + " has shape " +
                                 t.shapeString() + " but its type is " +
                                 typeString(op->getResult(index).getType()) +
                                 " (a shape was inferred or folded wrongly)");
}

Expected<std::vector<Tensor>> Executor::run(const std::vector<Tensor> &inputs) {
  llvm::StringMap<int64_t> symbols;
  if (Error e = bindInputs(inputs, symbols))
    return std::move(e);
  Block &body = func.getBody().front();
  // Release each value after its last use so peak memory stays near the
  // model's working set.
  llvm::DenseMap<Value, Operation *> lastUse;
  for (Operation &op : body)
    for (Value v : op.getOperands())
      lastUse[v] = &op;
  llvm::DenseMap<Value, std::shared_ptr<const Tensor>> live;
  for (auto [i, arg] : llvm::enumerate(body.getArguments()))
    live[arg] = std::make_shared<Tensor>(inputs[i]);
  std::vector<Tensor> results;
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (Value v : ret.getOperands())
        results.push_back(*live.lookup(v));
      break;
    }
    if (isa<NoneOp>(op))
      continue;
    if (auto constant = dyn_cast<ConstantOp>(op)) {
      auto &cached = constants[constant.getResult()];
      if (!cached)
        cached = std::make_shared<Tensor>(tensorFromAttr(constant.getValue()));
      live[constant.getResult()] = cached;
      continue;
    }
    std::vector<const Tensor *> ins;
    for (Value v : op.getOperands()) {
      if (isa<NoneType>(v.getType())) {
        ins.push_back(nullptr);
        continue;
      }
      auto it = live.find(v);
      if (it == live.end())
        return llvm::createStringError(describeOp(&op) +
                                       ": an operand has no value");
      ins.push_back(it->second.get());
    }
    std::vector<Tensor> outs;
    if (Error e = evaluateOp(&op, ins, outs, symbols))
      return std::move(e);
    for (auto [i, t] : llvm::enumerate(outs)) {
      if (Error e = checkResultShape(&op, i, t, symbols))
        return std::move(e);
      live[op.getResult(i)] = std::make_shared<Tensor>(std::move(t));
    }
    for (Value v : op.getOperands())
      if (lastUse.lookup(v) == &op && !isa<BlockArgument>(v))
        live.erase(v);
  }
  return results;
}
