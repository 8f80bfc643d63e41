//===- CompileDriver.cpp - kuai-compile -----------------------------------===//
//
// One phase table drives the stop points (`--emit`), the way IREE's
// `--compile-to` does: import, graph, transformer (MLIR pass pipelines),
// then kernels, ptx and artifact (lib/Codegen).
//
//===----------------------------------------------------------------------===//

#include "kuai/Codegen/KernelProgram.h"
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
#include <chrono>
#include <map>
#include <set>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Phase { Import, Graph, Transformer, Kernels, Ptx, Artifact };

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
    {Phase::Kernels, "kernels",
     "kernel launches over buffers after kuai-lower-to-kernels, "
     "kuai-fuse-kernels and kuai-plan-memory",
     nullptr},
    {Phase::Ptx, "ptx", "the PTX modules (generated kernels, then templates)",
     nullptr},
    {Phase::Artifact, "artifact", "model.kuai for the runtime (needs -o)",
     nullptr},
};

/// Prints one line per finished phase once compiling takes a while.
class Progress {
public:
  void done(const char *phase) {
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (s >= 2.0 || shown) {
      llvm::errs() << llvm::format("kuai-compile: %-12s done at %6.1f s\n",
                                   phase, s);
      shown = true;
    }
  }

private:
  std::chrono::steady_clock::time_point start =
      std::chrono::steady_clock::now();
  bool shown = false;
};

int fail(const llvm::Twine &message) {
  llvm::errs() << "kuai-compile: error: " << message << "\n";
  return 1;
}

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
      cl::values(clEnumValN(Phase::Import, "import", kPhases[0].help),
                 clEnumValN(Phase::Graph, "graph", kPhases[1].help),
                 clEnumValN(Phase::Transformer, "transformer", kPhases[2].help),
                 clEnumValN(Phase::Kernels, "kernels", kPhases[3].help),
                 clEnumValN(Phase::Ptx, "ptx", kPhases[4].help),
                 clEnumValN(Phase::Artifact, "artifact", kPhases[5].help)));
  cl::opt<std::string> dtype(
      "dtype",
      cl::desc("Precision of weights and activations on the GPU: auto (the "
               "model's), fp32, fp16 or bf16; accumulation is fp32"),
      cl::init("auto"));
  cl::opt<int64_t> maxBatch("max-batch",
                            cl::desc("Largest `batch` the artifact runs "
                                     "(memory is planned for it)"),
                            cl::init(16));
  cl::opt<int64_t> maxSeq(
      "max-seq", cl::desc("Largest `seq` the artifact runs"), cl::init(1024));
  cl::list<std::string> maxDims("max-dim",
                                cl::desc("Bound of another symbolic dimension"),
                                cl::value_desc("name=N"));
  cl::opt<std::string> target("target",
                              cl::desc("GPU architecture (default sm_90)"),
                              cl::init("sm_90"));
  cl::opt<std::string> templateDir(
      "template-dir",
      cl::desc("Read the CUDA kernel templates from DIR instead of the copies "
               "built in (kernel development; DIR holds every file of "
               "lib/Codegen/templates)"),
      cl::value_desc("DIR"), cl::init(""));
  cl::opt<bool> kvCache(
      "kv-cache",
      cl::desc("Run kuai-kv-cache after raising: the model appends chunks "
               "of tokens to a paged KV cache (prefill and decode)"),
      cl::init(false));
  cl::opt<bool> emptyPast(
      "empty-past",
      cl::desc("A past/present export (past_key_values.N.key/value inputs, "
               "present.N.key/value outputs) in its full-sequence form: the "
               "past imported with length 0, past and present dropped "
               "(implied by --kv-cache)"),
      cl::init(false));
  cl::opt<int64_t> kvPageSize("kv-page-size",
                              cl::desc("Tokens per KV cache page (default 16)"),
                              cl::init(16));
  cl::opt<std::string> hopperActivation(
      "hopper-activation",
      cl::desc("A Hopper linear followed by GELU/SiLU/ReLU: fold (default: "
               "the activation in a cooperative tile's epilogue) or separate "
               "(the ping-pong tile where it costs less, the activation its "
               "own launch)"),
      cl::init("fold"));
  cl::opt<bool> noFuse("no-fuse",
                       cl::desc("Skip kuai-fuse-kernels (one launch per op)"),
                       cl::init(false));
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
  // --kv-cache wants the full-sequence form: a past/present export has it
  // with an empty past (kuai-drop-empty-past removes past and present).
  ImportOptions importOptions;
  importOptions.emptyPast = kvCache || emptyPast;
  OwningOpRef<ModuleOp> module = loadModel(&context, input, importOptions);
  if (!module)
    return 1;
  if (dtype != "auto" && dtype != "fp32" && dtype != "fp16" && dtype != "bf16")
    return fail("--dtype must be auto, fp32, fp16 or bf16, got '" + dtype +
                "'");
  if (emit == Phase::Artifact && output == "-")
    return fail("--emit=artifact writes a file: give -o model.kuai");
  Progress progress;
  progress.done("import");
  std::map<std::string, int> beforeRaise;
  for (const PhaseInfo &info : kPhases) {
    if (!info.build && info.phase != Phase::Import)
      break; // the codegen phases follow below
    if (info.phase == Phase::Transformer)
      beforeRaise = histogram(*module);
    if (info.build) {
      PassManager pm(&context);
      info.build(pm);
      if (failed(pm.run(*module)))
        return 1;
      progress.done(info.name);
    }
    if (info.phase == Phase::Transformer && kvCache) {
      PassManager pm(&context);
      kuai::KvCacheOptions kv;
      kv.pageSize = kvPageSize;
      pm.addNestedPass<func::FuncOp>(kuai::createKvCache(kv));
      if (failed(pm.run(*module)))
        return 1;
      progress.done("kv-cache");
    }
    if (info.phase == emit)
      break;
  }
  if (emit >= Phase::Kernels) {
    auto func = module->lookupSymbol<func::FuncOp>("main");
    if (!func)
      return fail(input + ": no func.func @main");
    kuai::codegen::CompileOptions options;
    options.dtype = dtype;
    options.target = target;
    options.fuse = !noFuse;
    if (hopperActivation != "fold" && hopperActivation != "separate")
      return fail("--hopper-activation expects fold or separate, got '" +
                  hopperActivation + "'");
    options.separateHopperActivation = hopperActivation == "separate";
    options.templateDir = templateDir;
    options.bounds["batch"] = maxBatch;
    options.bounds["seq"] = maxSeq;
    if (kvCache) {
      // A sequence holds up to max-seq tokens; the pool defaults to every
      // sequence at full length (the runtime sizes it at run time).
      int64_t blocks = (maxSeq + kvPageSize - 1) / kvPageSize;
      options.bounds["kv_blocks"] = blocks;
      options.bounds["kv_pages"] = blocks * maxBatch;
    }
    for (const std::string &d : maxDims) {
      auto [name, value] = llvm::StringRef(d).split('=');
      int64_t v;
      if (value.getAsInteger(10, v) || v <= 0)
        return fail("--max-dim expects name=N, got '" + d + "'");
      options.bounds[name] = v;
    }
    auto program = kuai::codegen::lowerToKernels(func, options);
    if (!program)
      return fail(llvm::toString(program.takeError()));
    if (options.fuse)
      kuai::codegen::fuseKernels(*program);
    kuai::codegen::addSmallRowVariants(*program);
    kuai::codegen::finalizeGeneratedLaunches(*program);
    if (llvm::Error e = kuai::codegen::planMemory(*program))
      return fail(llvm::toString(std::move(e)));
    progress.done("kernels");
    std::string error;
    if (emit == Phase::Kernels) {
      auto out = openOutputFile(output, &error);
      if (!out)
        return fail(error);
      kuai::codegen::printKernelProgram(*program, out->os());
      out->keep();
      return 0;
    }
    auto generated = kuai::codegen::generateElementwisePtx(*program);
    if (!generated)
      return fail(llvm::toString(generated.takeError()));
    auto templates = kuai::codegen::compileTemplatesPtx(*program);
    if (!templates)
      return fail(llvm::toString(templates.takeError()));
    progress.done("ptx");
    if (emit == Phase::Ptx) {
      auto out = openOutputFile(output, &error);
      if (!out)
        return fail(error);
      out->os() << "// module generated\n"
                << *generated << "\n// module templates\n"
                << *templates;
      out->keep();
      return 0;
    }
    if (llvm::Error e = kuai::codegen::writeArtifact(*program, *generated,
                                                     *templates, output))
      return fail(llvm::toString(std::move(e)));
    progress.done("artifact");
    llvm::errs() << "kuai-compile: wrote " << output << ": "
                 << program->launches.size() << " launches, arena "
                 << program->arenaBytes << " bytes at the bounds, weights "
                 << program->weights.size() << " bytes\n";
    return 0;
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
