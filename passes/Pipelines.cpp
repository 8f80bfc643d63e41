//===- Pipelines.cpp - kuai pass pipelines and registration ---------------===//

#include "kuai/Passes/Passes.h"
#include "mlir/Transforms/Passes.h"

using namespace mlir;

void kuai::buildGraphCleanupPipeline(OpPassManager &pm) {
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
}
