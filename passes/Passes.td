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

    Example:

    ```mlir
    %s = kuai.shape %x : ...                      // x: [batch, seq, 64]
    %i = kuai.constant dense<1> : tensor<1xi64>
    %seq = kuai.gather %s, %i {axis = 0 : i64}
    %c = kuai.constant dense<[-1, 4, 16]> : tensor<3xi64>
    %shape = kuai.concat %seq, %c {axis = 0 : i64}
    %y = kuai.reshape %x, %shape                  // tensor<?x?x?x?xf32>
    ```

    becomes

    ```mlir
    %shape = kuai.sym_tensor #kuai.dims<seq, -1, 4, 16> : tensor<4xi64>
    %y = kuai.reshape %x, %shape   // tensor<?x?x4x16xf32, #kuai.dims<seq, batch, 4, 16>>
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
