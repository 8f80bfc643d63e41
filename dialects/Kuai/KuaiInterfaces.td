//===- KuaiInterfaces.td - Shape inference interface ------*- tablegen -*-===//
#ifndef KUAI_INTERFACES_TD
#define KUAI_INTERFACES_TD

include "mlir/IR/OpBase.td"

def Kuai_InferShapesOpInterface : OpInterface<"InferShapesOpInterface"> {
  let cppNamespace = "::kuai";
  let description = [{
    Computes result types (element type and symbolic dimensions) from operand
    types, attributes and the values of constant or symbolic shape operands.
    The importer, `kuai-fold-shapes` and the verifier share it: the verifier
    checks that declared result types agree with what inference computes.
  }];
  let methods = [
    InterfaceMethod<
      "Infers result types; emits an error on invalid operands or attributes.",
      "::llvm::LogicalResult", "inferResultTypes",
      (ins "::llvm::SmallVectorImpl<::mlir::Type> &":$types), [{}],
      [{
        // Attributes and operand types are checked first: inference reads
        // them through the typed accessors, and the importer infers before
        // the module is verified.
        if (::mlir::failed($_op.verifyInvariantsImpl()))
          return ::mlir::failure();
        return ::kuai::inferResultTypes($_op.getOperation(), types);
      }]>
  ];
  let verify = [{ return ::kuai::verifyInferredTypes($_op); }];
}

#endif
