//===- Passes.td - kuai passes ----------------------------*- tablegen -*-===//
#ifndef KUAI_PASSES_TD
#define KUAI_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldShapes : Pass<"kuai-fold-shapes", "mlir::func::FuncOp"> {
  let summary = "Fold shape subgraphs into static or symbolic shapes";
  let description = [{
    Exporters compute shapes at run time: `Shape`, `Gather`, `Concat`,
    `Range`, `Expand` and friends feed `Reshape` and masks. This pass
    evaluates those subgraphs at compile time, symbolically where they depend
    on the graph inputs' dynamic dimensions:

    * an integer tensor whose elements are known dimension expressions
      becomes a `kuai.constant` (all constant) or a `kuai.sym_tensor`;
    * an op whose operands are all constants is evaluated by the reference
      executor's kernels (up to `max-fold-elements` result elements);
    * result types are re-inferred, so `Reshape`, `Expand`, `Range`, ... get
      static or symbolic dimensions;
    * ops left without uses are erased.

    Example (`x` is `tensor<?x?x64xf32, #kuai.dims<batch, seq, 64>>`):

    ```mlir
    %shape = kuai.shape %x : (...) -> tensor<3xi64>
    %idx = kuai.constant dense<[0, 1]> : tensor<2xi64>
    %bs = kuai.gather %shape, %idx {axis = 0 : i64} : (...) -> tensor<2xi64>
    %heads = kuai.constant dense<[4, 16]> : tensor<2xi64>
    %target = kuai.concat %bs, %heads {axis = 0 : i64} : (...) -> tensor<4xi64>
    %y = kuai.reshape %x, %target : (...) -> tensor<*xf32>
    ```

    becomes

    ```mlir
    %0 = kuai.sym_tensor <batch, seq, 4, 16> : tensor<4xi64>
    %y = kuai.reshape %x, %0 : (...)
        -> tensor<?x?x4x16xf32, #kuai.dims<batch, seq, 4, 16>>
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
  let options = [
    Option<"maxFoldElements", "max-fold-elements", "int64_t",
           /*default=*/"4194304",
           "Largest result (in elements) that constant folding materialises">
  ];
}

#endif
