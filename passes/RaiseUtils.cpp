//===- RaiseUtils.cpp - Helpers shared by the raising passes --------------===//

#include "RaiseUtils.h"
#include "kuai/Reference/Executor.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;
using namespace kuai;

std::optional<double> kuai::getScalarConstant(Value value) {
  ElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)) ||
      attr.getNumElements() != 1)
    return std::nullopt;
  ref::Tensor t = ref::tensorFromAttr(attr);
  return t.at(0);
}

bool kuai::isConstantTensor(Value value) {
  return value && value.getDefiningOp<ConstantOp>();
}

std::optional<int64_t> kuai::getSingleAxis(Value axes, int64_t rank) {
  auto values = getConstantInts(axes);
  if (!values || values->size() != 1)
    return std::nullopt;
  int64_t a = (*values)[0];
  return a < 0 ? a + rank : a;
}

int64_t kuai::getRank(Value value) {
  auto t = dyn_cast<RankedTensorType>(value.getType());
  return t ? t.getRank() : -1;
}

Value kuai::otherOperand(Operation *op, Value known) {
  if (!op || op->getNumOperands() != 2)
    return {};
  if (op->getOperand(0) == known)
    return op->getOperand(1);
  if (op->getOperand(1) == known)
    return op->getOperand(0);
  return {};
}

llvm::SetVector<Operation *>
kuai::backwardSlice(Value root, function_ref<bool(Value)> stop) {
  llvm::SetVector<Operation *> slice;
  SmallVector<Value> work{root};
  llvm::DenseSet<Value> seen;
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (!seen.insert(v).second || stop(v))
      continue;
    Operation *def = v.getDefiningOp();
    if (!def)
      continue;
    slice.insert(def);
    for (Value operand : def->getOperands())
      work.push_back(operand);
  }
  // Program order is a topological order within a block.
  SmallVector<Operation *> ordered(slice.begin(), slice.end());
  llvm::sort(ordered,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  return llvm::SetVector<Operation *>(ordered.begin(), ordered.end());
}

std::optional<ref::Tensor>
kuai::evaluateSlice(ArrayRef<Operation *> slice, Value root,
                    const llvm::DenseMap<Value, ref::Tensor> &given,
                    const llvm::StringMap<int64_t> &symbols) {
  llvm::DenseMap<Value, ref::Tensor> values = given;
  for (Operation *op : slice) {
    if (isa<NoneOp>(op))
      continue;
    std::vector<const ref::Tensor *> inputs;
    for (Value v : op->getOperands()) {
      if (isa<NoneType>(v.getType())) {
        inputs.push_back(nullptr);
        continue;
      }
      auto it = values.find(v);
      if (it == values.end())
        return std::nullopt;
      inputs.push_back(&it->second);
    }
    std::vector<ref::Tensor> outputs;
    if (llvm::Error e = ref::evaluateOp(op, inputs, outputs, symbols)) {
      llvm::consumeError(std::move(e));
      return std::nullopt;
    }
    for (auto [result, t] : llvm::zip(op->getResults(), outputs))
      values[result] = std::move(t);
  }
  auto it = values.find(root);
  if (it == values.end())
    return std::nullopt;
  return it->second;
}

LogicalResult kuai::inferTypesQuietly(Operation *op) {
  ScopedDiagnosticHandler silence(op->getContext(),
                                  [](Diagnostic &) { return success(); });
  return updateResultTypes(op);
}

bool kuai::typesCompatible(Type a, Type b) {
  auto da = getSymDims(a), db = getSymDims(b);
  if (!da || !db || da->size() != db->size() ||
      cast<ShapedType>(a).getElementType() !=
          cast<ShapedType>(b).getElementType())
    return false;
  for (auto [x, y] : llvm::zip(*da, *db))
    if (x.isKnown() && y.isKnown() && x != y)
      return false;
  return true;
}

void kuai::syncFunctionResultTypes(func::FuncOp func) {
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  func.setFunctionType(FunctionType::get(
      func.getContext(), func.getArgumentTypes(), ret.getOperandTypes()));
}

void kuai::eraseDeadKuaiOps(Operation *root) {
  bool changed = true;
  while (changed) {
    changed = false;
    SmallVector<Operation *> dead;
    root->walk([&](Operation *op) {
      if (op->use_empty() && isa<KuaiDialect>(op->getDialect()) && isPure(op))
        dead.push_back(op);
    });
    for (Operation *op : llvm::reverse(dead)) {
      op->erase();
      changed = true;
    }
  }
}
