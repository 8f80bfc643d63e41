//===- Pipelines.cpp - kuai pass pipelines and registration ---------------===//

#include "kuai/Passes/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void kuai::buildGraphCleanupPipeline(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createFoldShapes());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
  pm.addNestedPass<func::FuncOp>(createDropEmptyPast());
}

void kuai::buildRaisePipeline(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createFuseLinear());
  pm.addNestedPass<func::FuncOp>(createFuseNorms());
  pm.addNestedPass<func::FuncOp>(createFuseActivations());
  pm.addNestedPass<func::FuncOp>(createFuseRotary());
  pm.addNestedPass<func::FuncOp>(createFuseAttention());
  pm.addNestedPass<func::FuncOp>(createSimplifyMasks());
  pm.addNestedPass<func::FuncOp>(createRaiseMoe());
  pm.addNestedPass<func::FuncOp>(createFuseQkv());
  // Raised ops can know shapes the primitives did not; propagate them.
  pm.addNestedPass<func::FuncOp>(createFoldShapes());
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

void kuai::registerAllPasses() {
  registerKuaiPasses();
  PassPipelineRegistration<>(
      "kuai-graph-cleanup",
      "Fold shapes, canonicalize and CSE the graph IR after import",
      buildGraphCleanupPipeline);
  PassPipelineRegistration<>(
      "kuai-raise",
      "Raise graph IR to transformer ops: fuse-linear, fuse-norms, "
      "fuse-activations, fuse-rotary, fuse-attention, simplify-masks, "
      "raise-moe, fuse-qkv",
      buildRaisePipeline);
}
