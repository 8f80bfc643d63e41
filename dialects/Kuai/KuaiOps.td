//===- KuaiOps.td - Graph-level ops of the kuai dialect ---*- tablegen -*-===//
//
// One op per ONNX operator that transformer exports use. Attributes keep their
// ONNX names and defaults; inputs that moved from attributes to operands in
// opsets 13-18 (axes, split) are operands here, and the importer converts the
// older forms. An absent optional input is a value of type `none`
// (`kuai.none`), so every op has the operand positions of its ONNX schema.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_OPS_TD
#define KUAI_OPS_TD

include "KuaiDialect.td"
include "KuaiInterfaces.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// ONNX integer attributes are signed (negative axes); MLIR's Kuai_I64Attr getter
// returns uint64_t.
def Kuai_I64Attr : SignlessIntegerAttrBase<I64, "64-bit integer attribute"> {
  let returnType = "int64_t";
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

def Kuai_OptTensor : AnyTypeOf<[AnyTensor, NoneType], "tensor or none">;

class Kuai_Op<string mnemonic, list<Trait> traits = []>
    : Op<Kuai_Dialect, mnemonic, !listconcat(traits, [Pure])>;

// An op with ONNX semantics. `onnxName` is the ONNX op type the importer maps
// to it; the importer's table of claimed ops is generated from it.
class Kuai_OnnxOp<string mnemonic, string onnxName, list<Trait> traits = [],
                  code extra = "">
    : Kuai_Op<mnemonic, !listconcat(traits, [Kuai_InferShapesOpInterface])> {
  let summary = "ONNX " # onnxName;
  let description = "Semantics of the ONNX operator `" # onnxName #
      "` (https://onnx.ai/onnx/operators/onnx__" # onnxName # ".html), " #
      "computed in fp32 by the reference executor.";
  let extraClassDeclaration = "static constexpr ::llvm::StringLiteral "
      "kOnnxName = \"" # onnxName # "\";\n" # extra;
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Constants, symbolic shapes, none
//===----------------------------------------------------------------------===//

def Kuai_ConstantOp : Kuai_OnnxOp<"constant", "Constant",
    [ConstantLike, AllTypesMatch<["value", "output"]>]> {
  let description = [{
    A constant tensor. Initializers of the ONNX graph become constants whose
    value is a dense resource (the bytes are not copied at import). The
    `value_float`, `value_ints`, ... forms of ONNX Constant are normalised to
    `value`.

    Example: `%0 = kuai.constant dense<[1, 2]> : tensor<2xi64>`
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyTensor:$output);
  let hasFolder = 1;
  let assemblyFormat = "$value attr-dict";
  let builders = [OpBuilder<(ins "::mlir::ElementsAttr":$value), [{
    build($_builder, $_state, value.getType(), value);
  }]>];
}

def Kuai_SymTensorOp : Kuai_Op<"sym_tensor", [Kuai_InferShapesOpInterface]> {
  let summary = "An i64 tensor of symbolic dimension values";
  let description = [{
    The folded form of a shape subgraph: each element is a dimension
    expression over the symbols bound by the graph inputs. The reference
    executor evaluates it with the sizes of the actual inputs.

    Example: `%s = kuai.sym_tensor #kuai.dims<batch, seq, 8, 32> : tensor<4xi64>`
  }];
  let arguments = (ins Kuai_DimsAttr:$values);
  let results = (outs AnyTensor:$output);
  let assemblyFormat = "$values attr-dict `:` type($output)";
}

def Kuai_NoneOp : Kuai_Op<"none", [ConstantLike]> {
  let summary = "The absent value of an optional ONNX input";
  let results = (outs NoneType:$output);
  let assemblyFormat = "attr-dict";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Kuai_UnaryOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$output);
}

def Kuai_NegOp : Kuai_UnaryOp<"neg", "Neg">;
def Kuai_AbsOp : Kuai_UnaryOp<"abs", "Abs">;
def Kuai_ExpOp : Kuai_UnaryOp<"exp", "Exp">;
def Kuai_LogOp : Kuai_UnaryOp<"log", "Log">;
def Kuai_SqrtOp : Kuai_UnaryOp<"sqrt", "Sqrt">;
def Kuai_ReciprocalOp : Kuai_UnaryOp<"reciprocal", "Reciprocal">;
def Kuai_SigmoidOp : Kuai_UnaryOp<"sigmoid", "Sigmoid">;
def Kuai_TanhOp : Kuai_UnaryOp<"tanh", "Tanh">;
def Kuai_ErfOp : Kuai_UnaryOp<"erf", "Erf">;
def Kuai_SinOp : Kuai_UnaryOp<"sin", "Sin">;
def Kuai_CosOp : Kuai_UnaryOp<"cos", "Cos">;
def Kuai_TanOp : Kuai_UnaryOp<"tan", "Tan">;
def Kuai_AsinOp : Kuai_UnaryOp<"asin", "Asin">;
def Kuai_AcosOp : Kuai_UnaryOp<"acos", "Acos">;
def Kuai_AtanOp : Kuai_UnaryOp<"atan", "Atan">;
def Kuai_SinhOp : Kuai_UnaryOp<"sinh", "Sinh">;
def Kuai_CoshOp : Kuai_UnaryOp<"cosh", "Cosh">;
def Kuai_AsinhOp : Kuai_UnaryOp<"asinh", "Asinh">;
def Kuai_AcoshOp : Kuai_UnaryOp<"acosh", "Acosh">;
def Kuai_AtanhOp : Kuai_UnaryOp<"atanh", "Atanh">;
def Kuai_ReluOp : Kuai_UnaryOp<"relu", "Relu">;
def Kuai_FloorOp : Kuai_UnaryOp<"floor", "Floor">;
def Kuai_CeilOp : Kuai_UnaryOp<"ceil", "Ceil">;
def Kuai_RoundOp : Kuai_UnaryOp<"round", "Round">;
def Kuai_SignOp : Kuai_UnaryOp<"sign", "Sign">;
def Kuai_SoftplusOp : Kuai_UnaryOp<"softplus", "Softplus">;
def Kuai_SoftsignOp : Kuai_UnaryOp<"softsign", "Softsign">;
def Kuai_HardSwishOp : Kuai_UnaryOp<"hard_swish", "HardSwish">;
def Kuai_NotOp : Kuai_UnaryOp<"not", "Not">;
def Kuai_IsNaNOp : Kuai_UnaryOp<"isnan", "IsNaN">;
def Kuai_IdentityOp : Kuai_UnaryOp<"identity", "Identity"> {
  let hasFolder = 1;
}

def Kuai_IsInfOp : Kuai_OnnxOp<"isinf", "IsInf"> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$detect_negative,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$detect_positive);
  let results = (outs AnyTensor:$output);
}

class Kuai_AlphaOp<string mnemonic, string onnxName, string alpha>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedAttr<F32Attr, alpha>:$alpha);
  let results = (outs AnyTensor:$output);
}
def Kuai_LeakyReluOp : Kuai_AlphaOp<"leaky_relu", "LeakyRelu", "0.01">;
def Kuai_EluOp : Kuai_AlphaOp<"elu", "Elu", "1.0">;
def Kuai_CeluOp : Kuai_AlphaOp<"celu", "Celu", "1.0">;
def Kuai_ThresholdedReluOp
    : Kuai_AlphaOp<"thresholded_relu", "ThresholdedRelu", "1.0">;

def Kuai_SeluOp : Kuai_OnnxOp<"selu", "Selu"> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedAttr<F32Attr, "1.67326319217681884765625">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.05070102214813232421875">:$gamma);
  let results = (outs AnyTensor:$output);
}
def Kuai_HardSigmoidOp : Kuai_OnnxOp<"hard_sigmoid", "HardSigmoid"> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedAttr<F32Attr, "0.2">:$alpha,
                   DefaultValuedAttr<F32Attr, "0.5">:$beta);
  let results = (outs AnyTensor:$output);
}
def Kuai_GeluOp : Kuai_OnnxOp<"gelu", "Gelu"> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedStrAttr<StrAttr, "none">:$approximate);
  let results = (outs AnyTensor:$output);
}

class Kuai_BinaryOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$lhs, AnyTensor:$rhs);
  let results = (outs AnyTensor:$output);
}

def Kuai_AddOp : Kuai_BinaryOp<"add", "Add">;
def Kuai_SubOp : Kuai_BinaryOp<"sub", "Sub">;
def Kuai_MulOp : Kuai_BinaryOp<"mul", "Mul">;
def Kuai_DivOp : Kuai_BinaryOp<"div", "Div">;
def Kuai_PowOp : Kuai_BinaryOp<"pow", "Pow">;
def Kuai_EqualOp : Kuai_BinaryOp<"equal", "Equal">;
def Kuai_LessOp : Kuai_BinaryOp<"less", "Less">;
def Kuai_LessOrEqualOp : Kuai_BinaryOp<"less_or_equal", "LessOrEqual">;
def Kuai_GreaterOp : Kuai_BinaryOp<"greater", "Greater">;
def Kuai_GreaterOrEqualOp
    : Kuai_BinaryOp<"greater_or_equal", "GreaterOrEqual">;
def Kuai_AndOp : Kuai_BinaryOp<"and", "And">;
def Kuai_OrOp : Kuai_BinaryOp<"or", "Or">;
def Kuai_XorOp : Kuai_BinaryOp<"xor", "Xor">;
def Kuai_PReluOp : Kuai_BinaryOp<"prelu", "PRelu">;

def Kuai_ModOp : Kuai_OnnxOp<"mod", "Mod"> {
  let arguments = (ins AnyTensor:$lhs, AnyTensor:$rhs,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$fmod);
  let results = (outs AnyTensor:$output);
}

class Kuai_VariadicOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins Variadic<AnyTensor>:$inputs);
  let results = (outs AnyTensor:$output);
}
def Kuai_MaxOp : Kuai_VariadicOp<"max", "Max">;
def Kuai_MinOp : Kuai_VariadicOp<"min", "Min">;
def Kuai_SumOp : Kuai_VariadicOp<"sum", "Sum">;
def Kuai_MeanOp : Kuai_VariadicOp<"mean", "Mean">;

def Kuai_WhereOp : Kuai_OnnxOp<"where", "Where"> {
  let arguments = (ins AnyTensor:$condition, AnyTensor:$x, AnyTensor:$y);
  let results = (outs AnyTensor:$output);
}

def Kuai_ClipOp : Kuai_OnnxOp<"clip", "Clip"> {
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$min,
                   Kuai_OptTensor:$max);
  let results = (outs AnyTensor:$output);
}

def Kuai_CastOp : Kuai_OnnxOp<"cast", "Cast"> {
  let description = [{
    Converts the element type. `to` is the ONNX TensorProto data type code.
  }];
  let arguments = (ins AnyTensor:$input, Kuai_I64Attr:$to,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$saturate);
  let results = (outs AnyTensor:$output);
}

def Kuai_CastLikeOp : Kuai_OnnxOp<"cast_like", "CastLike"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$target_type,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$saturate);
  let results = (outs AnyTensor:$output);
}

def Kuai_DropoutOp : Kuai_OnnxOp<"dropout", "Dropout"> {
  let description = [{
    Inference-mode dropout: the identity, and an all-true mask. A
    `training_mode` operand that is not a constant false is rejected.
  }];
  let arguments = (ins AnyTensor:$data, Kuai_OptTensor:$ratio,
                   Kuai_OptTensor:$training_mode,
                   OptionalAttr<Kuai_I64Attr>:$seed);
  let results = (outs AnyTensor:$output, AnyTensor:$mask);
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def Kuai_ShapeOp : Kuai_OnnxOp<"shape", "Shape"> {
  let arguments = (ins AnyTensor:$data,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$start,
                   OptionalAttr<Kuai_I64Attr>:$end);
  let results = (outs AnyTensor:$output);
}

def Kuai_SizeOp : Kuai_OnnxOp<"size", "Size"> {
  let arguments = (ins AnyTensor:$data);
  let results = (outs AnyTensor:$output);
}

def Kuai_ConstantOfShapeOp : Kuai_OnnxOp<"constant_of_shape",
                                         "ConstantOfShape"> {
  let arguments = (ins AnyTensor:$shape, OptionalAttr<ElementsAttr>:$value);
  let results = (outs AnyTensor:$output);
}

def Kuai_ReshapeOp : Kuai_OnnxOp<"reshape", "Reshape"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$shape,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$allowzero);
  let results = (outs AnyTensor:$output);
}

def Kuai_FlattenOp : Kuai_OnnxOp<"flatten", "Flatten"> {
  let arguments = (ins AnyTensor:$input, DefaultValuedAttr<Kuai_I64Attr, "1">:$axis);
  let results = (outs AnyTensor:$output);
}

def Kuai_SqueezeOp : Kuai_OnnxOp<"squeeze", "Squeeze"> {
  let arguments = (ins AnyTensor:$data, Kuai_OptTensor:$axes);
  let results = (outs AnyTensor:$output);
}

def Kuai_UnsqueezeOp : Kuai_OnnxOp<"unsqueeze", "Unsqueeze"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$axes);
  let results = (outs AnyTensor:$output);
}

def Kuai_TransposeOp : Kuai_OnnxOp<"transpose", "Transpose"> {
  let arguments = (ins AnyTensor:$data, OptionalAttr<DenseI64ArrayAttr>:$perm);
  let results = (outs AnyTensor:$output);
}

def Kuai_ConcatOp : Kuai_OnnxOp<"concat", "Concat"> {
  let arguments = (ins Variadic<AnyTensor>:$inputs, Kuai_I64Attr:$axis);
  let results = (outs AnyTensor:$output);
  // Inputs of length 0 along the axis (an empty past of a past/present
  // export) add nothing: with one input left of the result's type, the
  // concat is that input.
  let hasFolder = 1;
}

def Kuai_SplitOp : Kuai_OnnxOp<"split", "Split"> {
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$split,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$axis,
                   OptionalAttr<Kuai_I64Attr>:$num_outputs);
  let results = (outs Variadic<AnyTensor>:$outputs);
}

def Kuai_SliceOp : Kuai_OnnxOp<"slice", "Slice"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$starts, AnyTensor:$ends,
                   Kuai_OptTensor:$axes, Kuai_OptTensor:$steps);
  let results = (outs AnyTensor:$output);
}

def Kuai_ExpandOp : Kuai_OnnxOp<"expand", "Expand"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$shape);
  let results = (outs AnyTensor:$output);
}

def Kuai_TileOp : Kuai_OnnxOp<"tile", "Tile"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$repeats);
  let results = (outs AnyTensor:$output);
}

def Kuai_GatherOp : Kuai_OnnxOp<"gather", "Gather"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$axis);
  let results = (outs AnyTensor:$output);
}

def Kuai_GatherElementsOp : Kuai_OnnxOp<"gather_elements", "GatherElements"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$axis);
  let results = (outs AnyTensor:$output);
}

def Kuai_GatherNDOp : Kuai_OnnxOp<"gather_nd", "GatherND"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$batch_dims);
  let results = (outs AnyTensor:$output);
}

def Kuai_ScatterElementsOp : Kuai_OnnxOp<"scatter_elements",
                                         "ScatterElements"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$axis,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs AnyTensor:$output);
}

def Kuai_ScatterNDOp : Kuai_OnnxOp<"scatter_nd", "ScatterND"> {
  let arguments = (ins AnyTensor:$data, AnyTensor:$indices, AnyTensor:$updates,
                   DefaultValuedStrAttr<StrAttr, "none">:$reduction);
  let results = (outs AnyTensor:$output);
}

def Kuai_RangeOp : Kuai_OnnxOp<"range", "Range"> {
  let arguments = (ins AnyTensor:$start, AnyTensor:$limit, AnyTensor:$delta);
  let results = (outs AnyTensor:$output);
}

def Kuai_CumSumOp : Kuai_OnnxOp<"cumsum", "CumSum"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$axis,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$exclusive,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$reverse);
  let results = (outs AnyTensor:$output);
}

def Kuai_TriluOp : Kuai_OnnxOp<"trilu", "Trilu"> {
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$k,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$upper);
  let results = (outs AnyTensor:$output);
}

def Kuai_OneHotOp : Kuai_OnnxOp<"one_hot", "OneHot"> {
  let arguments = (ins AnyTensor:$indices, AnyTensor:$depth, AnyTensor:$values,
                   DefaultValuedAttr<Kuai_I64Attr, "-1">:$axis);
  let results = (outs AnyTensor:$output);
}

def Kuai_NonZeroOp : Kuai_OnnxOp<"non_zero", "NonZero"> {
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$output);
}

//===----------------------------------------------------------------------===//
// Linear algebra, normalisation, reductions
//===----------------------------------------------------------------------===//

def Kuai_MatMulOp : Kuai_OnnxOp<"matmul", "MatMul"> {
  let arguments = (ins AnyTensor:$lhs, AnyTensor:$rhs);
  let results = (outs AnyTensor:$output);
}

def Kuai_GemmOp : Kuai_OnnxOp<"gemm", "Gemm"> {
  let arguments = (ins AnyTensor:$a, AnyTensor:$b, Kuai_OptTensor:$c,
                   DefaultValuedAttr<F32Attr, "1.0">:$alpha,
                   DefaultValuedAttr<F32Attr, "1.0">:$beta,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$transA,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$transB);
  let results = (outs AnyTensor:$output);
}

def Kuai_EinsumOp : Kuai_OnnxOp<"einsum", "Einsum"> {
  let arguments = (ins Variadic<AnyTensor>:$inputs, StrAttr:$equation);
  let results = (outs AnyTensor:$output);
}

class Kuai_SoftmaxLikeOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$input,
                   DefaultValuedAttr<Kuai_I64Attr, "-1">:$axis);
  let results = (outs AnyTensor:$output);
}
def Kuai_SoftmaxOp : Kuai_SoftmaxLikeOp<"softmax", "Softmax">;
def Kuai_LogSoftmaxOp : Kuai_SoftmaxLikeOp<"log_softmax", "LogSoftmax">;
def Kuai_HardmaxOp : Kuai_SoftmaxLikeOp<"hardmax", "Hardmax">;

def Kuai_LayerNormalizationOp : Kuai_OnnxOp<"layer_normalization",
                                            "LayerNormalization"> {
  let arguments = (ins AnyTensor:$x, AnyTensor:$scale, Kuai_OptTensor:$bias,
                   DefaultValuedAttr<Kuai_I64Attr, "-1">:$axis,
                   DefaultValuedAttr<F32Attr, "1e-05">:$epsilon,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$stash_type);
  let results = (outs AnyTensor:$y, AnyTensor:$mean, AnyTensor:$inv_std_dev);
}

class Kuai_ReduceOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$data, Kuai_OptTensor:$axes,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$keepdims,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$noop_with_empty_axes);
  let results = (outs AnyTensor:$output);
}
def Kuai_ReduceSumOp : Kuai_ReduceOp<"reduce_sum", "ReduceSum">;
def Kuai_ReduceMeanOp : Kuai_ReduceOp<"reduce_mean", "ReduceMean">;
def Kuai_ReduceMaxOp : Kuai_ReduceOp<"reduce_max", "ReduceMax">;
def Kuai_ReduceMinOp : Kuai_ReduceOp<"reduce_min", "ReduceMin">;
def Kuai_ReduceProdOp : Kuai_ReduceOp<"reduce_prod", "ReduceProd">;
def Kuai_ReduceL1Op : Kuai_ReduceOp<"reduce_l1", "ReduceL1">;
def Kuai_ReduceL2Op : Kuai_ReduceOp<"reduce_l2", "ReduceL2">;
def Kuai_ReduceSumSquareOp
    : Kuai_ReduceOp<"reduce_sum_square", "ReduceSumSquare">;
def Kuai_ReduceLogSumOp : Kuai_ReduceOp<"reduce_log_sum", "ReduceLogSum">;
def Kuai_ReduceLogSumExpOp
    : Kuai_ReduceOp<"reduce_log_sum_exp", "ReduceLogSumExp">;

class Kuai_ArgOp<string mnemonic, string onnxName>
    : Kuai_OnnxOp<mnemonic, onnxName> {
  let arguments = (ins AnyTensor:$data,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$axis,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$keepdims,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$select_last_index);
  let results = (outs AnyTensor:$output);
}
def Kuai_ArgMaxOp : Kuai_ArgOp<"argmax", "ArgMax">;
def Kuai_ArgMinOp : Kuai_ArgOp<"argmin", "ArgMin">;

def Kuai_TopKOp : Kuai_OnnxOp<"topk", "TopK"> {
  let arguments = (ins AnyTensor:$input, AnyTensor:$k,
                   DefaultValuedAttr<Kuai_I64Attr, "-1">:$axis,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$largest,
                   DefaultValuedAttr<Kuai_I64Attr, "1">:$sorted);
  let results = (outs AnyTensor:$values, AnyTensor:$indices);
}

include "KuaiTransformerOps.td"

#endif
