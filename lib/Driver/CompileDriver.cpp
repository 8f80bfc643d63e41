//===- CompileDriver.cpp - kuai-compile -----------------------------------===//
//
// One phase table drives the stop points (`--emit`), the way IREE's
// `--compile-to` does. Phases that later issues add (transformer, kernels,
// ptx, artifact) extend the table.
//
//===----------------------------------------------------------------------===//

#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Driver/Drivers.h"
#include "kuai/Import/ModelLoader.h"
#include "kuai/Import/OnnxImporter.h"
#include "kuai/Passes/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include <map>
#include <set>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Phase { Import, Graph, Transformer };

struct PhaseInfo {
  Phase phase;
  const char *name;
  const char *help;
  void (*build)(OpPassManager &);
};

const PhaseInfo kPhases[] = {
    {Phase::Import, "import", "the ONNX graph as imported, before any pass",
     nullptr},
    {Phase::Graph, "graph",
     "graph IR after kuai-fold-shapes, canonicalize and cse",
     kuai::buildGraphCleanupPipeline},
    {Phase::Transformer, "transformer",
     "transformer IR after kuai-raise (attention, norms, rotary, linear, ...)",
     kuai::buildRaisePipeline},
};

/// Ops that are transformer-level, single-op activations (a pooler's tanh),
/// or data movement and index plumbing (position and token-type ids) that
/// may remain after raising. Everything else is a primitive left unraised.
bool isRaisedOrPlumbing(Operation *op) {
  return isa<
      kuai::LinearOp, kuai::AttentionOp, kuai::RmsNormOp, kuai::LayerNormOp,
      kuai::RotaryOp, kuai::EmbeddingOp, kuai::GluOp, kuai::SiluOp, kuai::MoeOp,
      kuai::GeluOp, kuai::ConstantOp, kuai::SymTensorOp, kuai::NoneOp,
      kuai::ReshapeOp, kuai::TransposeOp, kuai::SqueezeOp, kuai::UnsqueezeOp,
      kuai::ConcatOp, kuai::SplitOp, kuai::SliceOp, kuai::IdentityOp,
      kuai::CastOp, kuai::AddOp, kuai::MulOp, kuai::GatherOp,
      kuai::GatherElementsOp, kuai::ExpandOp, kuai::RangeOp, kuai::TanhOp,
      kuai::ReluOp, func::ReturnOp, func::FuncOp, ModuleOp>(op);
}

/// Op name -> count, in name order.
std::map<std::string, int> histogram(ModuleOp module) {
  std::map<std::string, int> counts;
  module.walk([&](Operation *op) {
    if (!isa<ModuleOp, func::FuncOp, func::ReturnOp, kuai::ConstantOp,
             kuai::NoneOp>(op))
      ++counts[op->getName().getStringRef().str()];
  });
  return counts;
}

void printHistograms(const std::map<std::string, int> &before,
                     const std::map<std::string, int> &after) {
  std::set<std::string> names;
  int totalBefore = 0, totalAfter = 0;
  for (auto &[n, c] : before)
    names.insert(n), totalBefore += c;
  for (auto &[n, c] : after)
    names.insert(n), totalAfter += c;
  llvm::errs() << llvm::format("%-28s %8s %8s\n", "op", "before", "after");
  for (const std::string &n : names) {
    auto b = before.find(n), a = after.find(n);
    llvm::errs() << llvm::format("%-28s %8d %8d\n", n.c_str(),
                                 b == before.end() ? 0 : b->second,
                                 a == after.end() ? 0 : a->second);
  }
  llvm::errs() << llvm::format("%-28s %8d %8d\n", "total (without constants)",
                               totalBefore, totalAfter);
}

/// Lists the ops that stayed primitive after raising, with their source
/// nodes; returns whether there were any.
bool reportUnraised(ModuleOp module) {
  std::map<std::string, std::vector<std::string>> left;
  module.walk([&](Operation *op) {
    if (isRaisedOrPlumbing(op))
      return;
    std::string where = "?";
    if (auto name = dyn_cast<NameLoc>(op->getLoc()))
      where = name.getName().str();
    left[op->getName().getStringRef().str()].push_back(where);
  });
  if (left.empty())
    return false;
  llvm::errs() << "kuai-compile: error: primitive ops left after raising:\n";
  for (auto &[name, nodes] : left) {
    llvm::errs() << "  " << name << " (" << nodes.size() << "): ";
    for (size_t i = 0; i < nodes.size() && i < 6; ++i)
      llvm::errs() << (i ? ", " : "") << nodes[i];
    llvm::errs() << (nodes.size() > 6 ? ", ...\n" : "\n");
  }
  return true;
}

/// Prints the module with large constants shown as `dense_resource<__elided__>`
/// and no resource section. MLIR's own resource elision renders each blob as
/// hex before deciding to drop it, which costs twice the weights in memory.
void printWithoutWeights(ModuleOp module, raw_ostream &os) {
  OwningOpRef<ModuleOp> view = module.clone();
  auto &manager =
      DenseResourceElementsHandle::getManagerInterface(module.getContext());
  view->walk([&](kuai::ConstantOp c) {
    auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
    if (c.getValue().getNumElements() <= 16 || (dense && dense.isSplat()))
      return;
    auto type = cast<ShapedType>(c.getValue().getType());
    c.setValueAttr(
        DenseResourceElementsAttr::get(type, manager.insert("__elided__")));
  });
  view->print(os, OpPrintingFlags().elideLargeElementsAttrs(16));
}

} // namespace

int kuai::compileMain(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::opt<std::string> input(cl::Positional,
                             cl::desc("<model.onnx|model.mlir>"), cl::Required);
  cl::opt<std::string> output("o", cl::desc("Output file (default: stdout)"),
                              cl::value_desc("file"), cl::init("-"));
  cl::opt<Phase> emit(
      "emit", cl::desc("Phase to stop after and print"), cl::init(Phase::Graph),
      cl::values(
          clEnumValN(Phase::Import, "import", kPhases[0].help),
          clEnumValN(Phase::Graph, "graph", kPhases[1].help),
          clEnumValN(Phase::Transformer, "transformer", kPhases[2].help)));
  cl::opt<bool> requireRaised(
      "require-raised",
      cl::desc("Fail, listing them, when primitive ops are left after "
               "raising"),
      cl::init(false));
  cl::opt<bool> keepWeights(
      "keep-weights",
      cl::desc(
          "Print weights in full (default: elided on stdout, kept in files)"),
      cl::init(false));
  cl::opt<bool> listOps("list-supported-ops",
                        cl::desc("Print the ONNX op types the importer "
                                 "supports and exit"),
                        cl::init(false));
  // The model is only optional for --list-supported-ops.
  input.setNumOccurrencesFlag(cl::Optional);
  cl::ParseCommandLineOptions(argc, argv, "kuai-compile: ONNX to kuai IR\n");
  if (listOps) {
    for (const std::string &op : getSupportedOnnxOps())
      llvm::outs() << op << "\n";
    return 0;
  }
  if (input.empty()) {
    llvm::errs() << "kuai-compile: no model given (see --help)\n";
    return 1;
  }

  DialectRegistry registry;
  registerKuaiDialects(registry);
  MLIRContext context(registry);
  installDiagnosticPrinter(&context);
  OwningOpRef<ModuleOp> module = loadModel(&context, input);
  if (!module)
    return 1;
  std::map<std::string, int> beforeRaise;
  for (const PhaseInfo &info : kPhases) {
    if (info.phase == Phase::Transformer)
      beforeRaise = histogram(*module);
    if (info.build) {
      PassManager pm(&context);
      info.build(pm);
      if (failed(pm.run(*module)))
        return 1;
    }
    if (info.phase == emit)
      break;
  }
  if (emit == Phase::Transformer) {
    // `--stats` is LLVM's own flag (registered by the command-line parser);
    // with --emit=transformer it prints the op histogram.
    if (llvm::AreStatisticsEnabled())
      printHistograms(beforeRaise, histogram(*module));
    if (requireRaised && reportUnraised(*module))
      return 1;
  }
  std::string error;
  auto out = openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << "kuai-compile: " << error << "\n";
    return 1;
  }
  if (output == "-" && !keepWeights)
    printWithoutWeights(*module, out->os());
  else
    module->print(out->os());
  out->keep();
  return 0;
}
