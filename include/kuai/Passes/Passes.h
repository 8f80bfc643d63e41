//===- Passes.h - kuai passes -----------------------------------*- C++ -*-===//
#ifndef KUAI_PASSES_PASSES_H
#define KUAI_PASSES_PASSES_H

#include "kuai/Dialect/KuaiDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace kuai {

#define GEN_PASS_DECL
#include "kuai/Passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "kuai/Passes/Passes.h.inc"

/// The graph-level cleanup every model goes through after import:
/// kuai-fold-shapes, canonicalize, cse (registered as `kuai-graph-cleanup`).
void buildGraphCleanupPipeline(mlir::OpPassManager &pm);

/// Graph IR to transformer ops (registered as `kuai-raise`).
void buildRaisePipeline(mlir::OpPassManager &pm);

/// Registers every kuai pass and pipeline with the global registry.
void registerAllPasses();

} // namespace kuai

#endif
