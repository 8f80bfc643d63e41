//===- kuai-opt.cpp - Run kuai passes on textual IR -----------------------===//

#include "kuai/Import/ModelLoader.h"
#include "kuai/Passes/Passes.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  kuai::registerAllPasses();
  mlir::DialectRegistry registry;
  kuai::registerKuaiDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kuai optimizer driver\n", registry));
}
