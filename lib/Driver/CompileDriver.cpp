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
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Phase { Import, Graph };

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
};

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
      cl::values(clEnumValN(Phase::Import, "import", kPhases[0].help),
                 clEnumValN(Phase::Graph, "graph", kPhases[1].help)));
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
  PassManager pm(&context);
  for (const PhaseInfo &info : kPhases) {
    if (info.build)
      info.build(pm);
    if (info.phase == emit)
      break;
  }
  if (failed(pm.run(*module)))
    return 1;
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
