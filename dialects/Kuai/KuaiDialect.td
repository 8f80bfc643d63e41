//===- KuaiDialect.td - The kuai dialect ------------------*- tablegen -*-===//
#ifndef KUAI_DIALECT_TD
#define KUAI_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Kuai_Dialect : Dialect {
  let name = "kuai";
  let cppNamespace = "::kuai";
  let summary = "Tensor ops with ONNX semantics and transformer-level ops";
  let description = [{
    The graph level of kuai holds one op per ONNX operator, with ONNX
    semantics (numpy broadcasting, negative axes, opset 13-21 forms normalised
    to the newest: axes and split sizes are operands). Tensor types carry
    symbolic dimensions in a `#kuai.dims` encoding so that `batch` and `seq`
    survive import and shape folding.
  }];
  let useDefaultAttributePrinterParser = 1;
  let usePropertiesForAttributes = 0;
  let hasConstantMaterializer = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

def Kuai_DimsAttr : AttrDef<Kuai_Dialect, "Dims"> {
  let mnemonic = "dims";
  let summary = "Symbolic dimensions of a tensor or the values of a shape";
  let description = [{
    One entry per dimension: an integer, a polynomial over named symbols
    (`batch`, `2*seq + 1`) or `?` when unknown. Used as the encoding of
    ranked tensor types and as the value of `kuai.sym_tensor`.

    Example: `tensor<?x?x256xf32, #kuai.dims<batch, seq, 256>>`.
  }];
  let parameters = (ins ArrayRefParameter<"::mlir::StringAttr">:$dims);
  let hasCustomAssemblyFormat = 1;
  let extraClassDeclaration = [{
    ::llvm::SmallVector<::kuai::SymExpr> getExprs() const;
    static DimsAttr get(::mlir::MLIRContext *ctx,
                        ::llvm::ArrayRef<::kuai::SymExpr> exprs);
  }];
}

#endif
