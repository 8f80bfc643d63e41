//===- RunDriver.cpp - kuai-run -------------------------------------------===//
//
// Runs a model on the reference executor (.onnx, .mlir) or, compiled, on the
// GPU through the runtime (.kuai, GpuRunDriver.cpp). Exit status: 0 when every
// compared output is within tolerance (or nothing was compared), 1 when an
// output is not, 2 on any error (bad model, bad input, failed run).
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Driver/Drivers.h"
#include "kuai/Import/ModelLoader.h"
#include "kuai/Passes/Passes.h"
#include "kuai/Reference/Executor.h"
#include "kuai/Reference/TensorIO.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include <chrono>

using namespace mlir;
using namespace kuai;
namespace cl = llvm::cl;

namespace {

std::string typeName(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// Logits of token ids through the reference executor of a causal LM
/// (one input of ids, logits [batch, seq, vocab] first).
LogitsFn referenceLogits(ref::Executor &executor) {
  Type idType = cast<ShapedType>(executor.getInputType(0)).getElementType();
  return [&executor, idType](const std::vector<int64_t> &ids, int64_t batch,
                             int64_t seq) -> llvm::Expected<ref::Tensor> {
    ref::Tensor in(idType, {batch, seq});
    in.ints = ids;
    auto out = executor.run({in});
    if (!out)
      return out.takeError();
    ref::Tensor &t = (*out)[0];
    if (!t.isFloat() || t.rank() != 3 || t.shape[0] != batch ||
        t.shape[1] != seq)
      return llvm::createStringError("output '" + executor.getOutputName(0) +
                                     "' is " + t.shapeString() +
                                     ", not logits [batch, seq, vocab]");
    return std::move(t);
  };
}

} // namespace

llvm::Expected<ref::Tensor> kuai::loadTensor(MLIRContext *ctx, StringRef path) {
  if (path.ends_with(".npy"))
    return ref::readNpy(ctx, path);
  auto attr = readTensorProtoFile(ctx, path, nullptr);
  if (!attr)
    return attr.takeError();
  return ref::tensorFromAttr(*attr);
}

/// Share of rows (all axes but the last) whose argmax agrees; -1 when the
/// last axis has fewer than 2 entries.
static double top1Agreement(const ref::Tensor &a, const ref::Tensor &b) {
  int64_t last = a.shape.empty() ? 1 : a.shape.back();
  if (last < 2 || a.numel() != b.numel())
    return -1;
  int64_t rows = a.numel() / last, same = 0;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t ia = 0, ib = 0;
    for (int64_t j = 1; j < last; ++j) {
      if (a.at(r * last + j) > a.at(r * last + ia))
        ia = j;
      if (b.at(r * last + j) > b.at(r * last + ib))
        ib = j;
    }
    same += ia == ib;
  }
  return double(same) / double(rows);
}

llvm::Expected<std::optional<bool>>
kuai::compareOutput(const Options &opts, MLIRContext &ctx, const ref::Tensor &t,
                    StringRef name, const std::string &file, double rtol,
                    bool top1) {
  if (!llvm::sys::fs::exists(file)) {
    llvm::outs() << "compare '" << name << "': no reference (" << file
                 << " absent)\n";
    return std::nullopt;
  }
  auto expected = loadTensor(&ctx, file);
  if (!expected)
    return expected.takeError();
  ref::Comparison c = ref::compareTensors(t, *expected);
  llvm::outs() << "compare '" << name << "': ";
  if (!c.shapeMatches) {
    llvm::outs() << "FAIL shape " << t.shapeString() << " but the reference is "
                 << expected->shapeString() << "\n";
    return false;
  }
  bool ok = c.mismatches == 0 &&
            (c.relL2 <= rtol || (opts.atol > 0 && c.maxAbs <= opts.atol));
  double agreement =
      top1 && t.isFloat() && t.rank() >= 2 ? top1Agreement(t, *expected) : -1;
  bool top1Low = agreement >= 0 && agreement < opts.minTop1;
  ok &= !top1Low;
  llvm::outs() << (ok ? "ok" : "FAIL") << " rel_l2 "
               << llvm::format("%.3e", c.relL2) << " max_abs "
               << llvm::format("%.3e", c.maxAbs) << " (rtol "
               << llvm::format("%.0e", rtol) << ")";
  if (agreement >= 0)
    llvm::outs() << " top1 " << llvm::format("%.2f%%", 100 * agreement);
  if (top1Low)
    llvm::outs() << " (below --min-top1 "
                 << llvm::format("%.2f%%", 100 * opts.minTop1) << ")";
  if (c.mismatches)
    llvm::outs() << " mismatched elements " << c.mismatches;
  llvm::outs() << "\n";
  return ok;
}

int kuai::finishComparison(unsigned compared, bool allOk,
                           const std::string &expect) {
  if (compared == 0)
    return runFail("no output_*.pb in " + expect + " to compare with");
  llvm::outs() << (allOk ? "PASS" : "FAIL") << " (" << compared << " output"
               << (compared == 1 ? "" : "s") << " compared)\n";
  return allOk ? 0 : 1;
}

int kuai::runFail(const llvm::Twine &message) {
  llvm::errs() << "kuai-run: error: " << message << "\n";
  return 2;
}

namespace {

bool hasHalfWeights(func::FuncOp func) {
  bool half = false;
  func.walk([&](ConstantOp c) {
    Type e = c.getValue().getElementType();
    half |= e.isF16() || e.isBF16();
  });
  return half;
}

int fail(const llvm::Twine &message) { return runFail(message); }

/// Runs one set of inputs (a test data set when `expect` is not empty) and
/// compares the outputs with its references.
int runOnce(Options &opts, MLIRContext &context, func::FuncOp func,
            ref::Executor &executor, const std::string &expect) {
  // Inputs: a test data set, files, or random.
  std::vector<ref::Tensor> inputs;
  std::vector<std::string> files(opts.inputs.begin(), opts.inputs.end());
  if (!expect.empty() && files.empty())
    for (unsigned i = 0; i < executor.getNumInputs(); ++i)
      files.push_back((expect + "/input_" + llvm::Twine(i) + ".pb").str());
  if (!files.empty()) {
    if (files.size() != executor.getNumInputs())
      return fail("the model has " + llvm::Twine(executor.getNumInputs()) +
                  " inputs but " + llvm::Twine(files.size()) +
                  " input files were given");
    for (const std::string &file : files) {
      auto t = loadTensor(&context, file);
      if (!t)
        return fail(llvm::toString(t.takeError()));
      inputs.push_back(std::move(*t));
    }
  } else {
    llvm::StringMap<int64_t> sizes;
    for (const std::string &d : opts.dims) {
      auto [name, value] = StringRef(d).split('=');
      int64_t v;
      if (value.getAsInteger(10, v) || v < 0)
        return fail("--dim expects name=size, got '" + d + "'");
      sizes[name] = v;
    }
    for (unsigned i = 0; i < executor.getNumInputs(); ++i) {
      Type type = executor.getInputType(i);
      auto dims = getSymDims(type);
      if (!dims)
        return fail("input '" + executor.getInputName(i) +
                    "' has no rank; give it with --input");
      std::vector<int64_t> shape;
      for (const SymExpr &e : *dims) {
        auto v = e.evaluate(sizes);
        if (!v && e.getSymbolName())
          v = sizes[*e.getSymbolName()] = 1;
        shape.push_back(v.value_or(1));
      }
      inputs.push_back(
          ref::randomTensor(cast<ShapedType>(type).getElementType(), shape,
                            opts.seed + i, opts.intMax));
    }
  }
  for (unsigned i = 0; i < inputs.size(); ++i)
    llvm::outs() << "input  '" << executor.getInputName(i) << "' "
                 << inputs[i].shapeString() << " "
                 << typeName(inputs[i].elementType) << "\n";

  auto start = std::chrono::steady_clock::now();
  auto outputs = executor.run(inputs);
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  if (!outputs)
    return fail(llvm::toString(outputs.takeError()));
  llvm::outs() << "ran on the reference executor in "
               << llvm::format("%.1f", ms) << " ms\n";

  for (auto [i, t] : llvm::enumerate(*outputs)) {
    llvm::outs() << "output '" << executor.getOutputName(i) << "' "
                 << t.shapeString() << " " << typeName(t.elementType) << ":";
    for (int64_t k = 0; k < std::min<int64_t>(t.numel(), opts.printValues); ++k)
      llvm::outs() << " " << llvm::format("%.6g", t.at(k));
    llvm::outs() << (t.numel() > opts.printValues ? " ...\n" : "\n");
    if (!opts.saveOutputs.empty()) {
      llvm::sys::fs::create_directories(opts.saveOutputs);
      std::string name = executor.getOutputName(i);
      std::replace(name.begin(), name.end(), '/', '_');
      if (llvm::Error e =
              ref::writeNpy(t, opts.saveOutputs + "/" + name + ".npy"))
        return fail(llvm::toString(std::move(e)));
    }
  }
  if (expect.empty())
    return 0;

  double rtol = opts.rtol >= 0         ? double(opts.rtol)
                : hasHalfWeights(func) ? 1e-3
                                       : 1e-5;
  bool allOk = true;
  unsigned compared = 0;
  for (auto [i, t] : llvm::enumerate(*outputs)) {
    std::string file = (expect + "/output_" + llvm::Twine(i) + ".pb").str();
    auto ok = compareOutput(opts, context, t, executor.getOutputName(i), file,
                            rtol, /*top1=*/false);
    if (!ok)
      return fail(llvm::toString(ok.takeError()));
    if (!*ok)
      continue;
    ++compared;
    allOk &= **ok;
  }
  return finishComparison(compared, allOk, expect);
}

} // namespace

int kuai::runMain(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  Options opts;
  cl::ParseCommandLineOptions(
      argc, argv,
      "kuai-run: run a model on the reference executor or the GPU\n");

  DialectRegistry registry;
  registerKuaiDialects(registry);
  MLIRContext context(registry);
  installDiagnosticPrinter(&context);
  bool text = !opts.prompt.empty() || !opts.promptIds.empty() ||
              !opts.perplexity.empty();
  // Text needs the full-sequence form; a past/present export has it with an
  // empty past (kuai-drop-empty-past then removes the past and present).
  ImportOptions importOptions;
  importOptions.emptyPast = text;
  if (StringRef(opts.model).ends_with(".kuai")) {
    if (opts.referenceModel.empty())
      return runArtifact(opts, context, nullptr);
    // The reference recomputes every step on the same transformer ops.
    OwningOpRef<ModuleOp> reference =
        loadModel(&context, opts.referenceModel, importOptions);
    if (!reference)
      return 2;
    PassManager pm(&context);
    buildGraphCleanupPipeline(pm);
    buildRaisePipeline(pm);
    if (failed(pm.run(*reference)))
      return 2;
    auto func = reference->lookupSymbol<func::FuncOp>("main");
    if (!func)
      return fail(opts.referenceModel + ": no func.func @main");
    ref::Executor executor(func);
    auto recompute = makeRecomputeDecoder(referenceLogits(executor));
    return runArtifact(opts, context, recompute.get());
  }
  OwningOpRef<ModuleOp> module = loadModel(&context, opts.model, importOptions);
  if (!module)
    return 2;
  // Generation through the KV cache runs on transformer ops; recomputing
  // (--compare-full-recompute) then runs on the same ops, so the comparison
  // measures the cache alone.
  bool generation = !opts.prompt.empty() || !opts.promptIds.empty();
  if (generation && !opts.noKvCache && opts.perplexity.empty())
    opts.raise = true;
  if (!opts.noFold) {
    PassManager pm(&context);
    buildGraphCleanupPipeline(pm);
    if (opts.raise)
      buildRaisePipeline(pm);
    if (failed(pm.run(*module)))
      return 2;
  }
  auto func = module->lookupSymbol<func::FuncOp>("main");
  if (!func)
    return fail(opts.model + ": no func.func @main");
  ref::Executor executor(func);

  if (text) {
    if (executor.getNumInputs() != 1 || executor.getNumOutputs() < 1)
      return fail(opts.model +
                  ": text generation and perplexity need a "
                  "causal LM with one input (token ids), it has " +
                  llvm::Twine(executor.getNumInputs()) + " inputs");
    LogitsFn logits = referenceLogits(executor);
    if (!opts.perplexity.empty())
      return runPerplexity(opts, context, logits);
    std::unique_ptr<Decoder> recompute = makeRecomputeDecoder(logits);
    OwningOpRef<ModuleOp> cachedModule;
    std::unique_ptr<Decoder> cached;
    if (!opts.noKvCache && !opts.noFold) {
      std::string reason;
      cachedModule = module->clone();
      {
        ScopedDiagnosticHandler quiet(&context, [&](Diagnostic &d) {
          if (reason.empty())
            reason = d.str();
          return success();
        });
        PassManager pm(&context);
        KvCacheOptions kv;
        kv.pageSize = opts.kvPageSize;
        pm.addNestedPass<func::FuncOp>(createKvCache(kv));
        if (succeeded(pm.run(*cachedModule))) {
          auto decoder = makeReferenceCacheDecoder(
              cachedModule->lookupSymbol<func::FuncOp>("main"));
          if (decoder)
            cached = std::move(*decoder);
          else
            reason = llvm::toString(decoder.takeError());
        }
      }
      if (!cached)
        llvm::errs() << "note: no KV cache for " << opts.model << ": " << reason
                     << "; recomputing the whole sequence per "
                     << "token\n";
    }
    if (opts.compareFullRecompute && !cached)
      return fail("--compare-full-recompute needs the KV cache");
    return cached ? runGeneration(opts, *cached,
                                  opts.compareFullRecompute ? recompute.get()
                                                            : nullptr)
                  : runGeneration(opts, *recompute, nullptr);
  }
  if (opts.expect.empty())
    return runOnce(opts, context, func, executor, "");
  int status = 0;
  for (const std::string &dir : opts.expect) {
    llvm::outs() << "== " << dir << "\n";
    status = std::max(status, runOnce(opts, context, func, executor, dir));
  }
  if (opts.expect.size() > 1)
    llvm::outs() << (status == 0 ? "PASS" : "FAIL") << ": "
                 << opts.expect.size() << " data sets from one import\n";
  return status;
}
