// One projection for q, k and v (GPT-2's c_attn), split, reshaped to heads
// and transposed into a causal attention.
func.func @main(%x: tensor<2x64x96xf16> {kuai.name = "x"}) -> (tensor<2x64x96xf16> {kuai.name = "y"}) {
  %none = kuai.none
  %w = kuai.constant dense<0.01> : tensor<288x96xf16>
  %sizes = kuai.constant dense<[96, 96, 96]> : tensor<3xi64>
  %heads = kuai.constant dense<[2, 64, 3, 32]> : tensor<4xi64>
  %back = kuai.constant dense<[2, 64, 96]> : tensor<3xi64>
  %qkv = kuai.linear %x, %w, %none {transpose_weight = true} : (tensor<2x64x96xf16>, tensor<288x96xf16>, none) -> tensor<2x64x288xf16>
  %q, %k, %v = kuai.split %qkv, %sizes {axis = 2 : i64} : (tensor<2x64x288xf16>, tensor<3xi64>) -> (tensor<2x64x96xf16>, tensor<2x64x96xf16>, tensor<2x64x96xf16>)
  %q4 = kuai.reshape %q, %heads : (tensor<2x64x96xf16>, tensor<4xi64>) -> tensor<2x64x3x32xf16>
  %k4 = kuai.reshape %k, %heads : (tensor<2x64x96xf16>, tensor<4xi64>) -> tensor<2x64x3x32xf16>
  %v4 = kuai.reshape %v, %heads : (tensor<2x64x96xf16>, tensor<4xi64>) -> tensor<2x64x3x32xf16>
  %qt = kuai.transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x64x3x32xf16>) -> tensor<2x3x64x32xf16>
  %kt = kuai.transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x64x3x32xf16>) -> tensor<2x3x64x32xf16>
  %vt = kuai.transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x64x3x32xf16>) -> tensor<2x3x64x32xf16>
  %a = kuai.attention %qt, %kt, %vt, %none {mask_kind = "causal", scale = 0.17677669 : f32} : (tensor<2x3x64x32xf16>, tensor<2x3x64x32xf16>, tensor<2x3x64x32xf16>, none) -> tensor<2x3x64x32xf16>
  %at = kuai.transpose %a {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x3x64x32xf16>) -> tensor<2x64x3x32xf16>
  %y = kuai.reshape %at, %back : (tensor<2x64x3x32xf16>, tensor<3xi64>) -> tensor<2x64x96xf16>
  return %y : tensor<2x64x96xf16>
}
