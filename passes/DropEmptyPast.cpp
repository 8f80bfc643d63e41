//===- DropEmptyPast.cpp - Past/present exports to full-sequence form -----===//
//
// A past/present export imported with an empty past is the full-sequence
// model plus inputs nobody reads and outputs (present.*) that are the new
// keys and values. Dropping both leaves the form kuai-kv-cache expects.
//
//===----------------------------------------------------------------------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "kuai/Support/PastPresent.h"
#include "llvm/ADT/BitVector.h"

namespace kuai {
#define GEN_PASS_DEF_DROPEMPTYPAST
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

StringRef nameOf(DictionaryAttr attrs) {
  auto name = attrs ? attrs.getAs<StringAttr>("kuai.name") : StringAttr();
  return name ? name.getValue() : StringRef();
}

struct DropEmptyPast : kuai::impl::DropEmptyPastBase<DropEmptyPast> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    llvm::BitVector pastArgs(func.getNumArguments());
    for (BlockArgument arg : func.getArguments()) {
      auto dims = getSymDims(arg.getType());
      if (isPastInputName(nameOf(func.getArgAttrDict(arg.getArgNumber()))) &&
          dims && dims->size() == 4 && (*dims)[2] == SymExpr::constant(0))
        pastArgs.set(arg.getArgNumber());
    }
    if (pastArgs.none())
      return;
    eraseDeadKuaiOps(func);
    for (unsigned i : pastArgs.set_bits()) {
      BlockArgument arg = func.getArgument(i);
      if (!arg.use_empty()) {
        InFlightDiagnostic diag =
            func.emitError()
            << "kuai-drop-empty-past: the empty past input '"
            << nameOf(func.getArgAttrDict(i))
            << "' is still used after folding (by "
            << (*arg.getUsers().begin())->getName()
            << "); only a Concat of past and new keys or values along the "
               "sequence axis, and shapes of the past, can read it";
        diag.attachNote((*arg.getUsers().begin())->getLoc()) << "used here";
        return signalPassFailure();
      }
    }
    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    llvm::BitVector presentResults(func.getNumResults());
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      if (isPresentOutputName(nameOf(func.getResultAttrDict(i))))
        presentResults.set(i);
    if (presentResults.all()) {
      func.emitError() << "kuai-drop-empty-past: every output is a present.* "
                          "tensor; no logits left";
      return signalPassFailure();
    }
    ret->eraseOperands(presentResults);
    if (failed(func.eraseResults(presentResults)) ||
        failed(func.eraseArguments(pastArgs)))
      return signalPassFailure();
    eraseDeadKuaiOps(func);
  }
};

} // namespace
