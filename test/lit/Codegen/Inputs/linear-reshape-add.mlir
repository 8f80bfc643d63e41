// GPT-2's Conv1D: rows flattened for the addmm, restored after, then the
// residual add.
func.func @main(%x: tensor<2x64x128xf16> {kuai.name = "x"}, %r: tensor<2x64x128xf16> {kuai.name = "r"}) -> (tensor<2x64x128xf16> {kuai.name = "y"}) {
  %w = kuai.constant dense<0.01> : tensor<128x128xf16>
  %b = kuai.constant dense<0.5> : tensor<128xf16>
  %flat = kuai.constant dense<[128, 128]> : tensor<2xi64>
  %rows = kuai.constant dense<[2, 64, 128]> : tensor<3xi64>
  %x2 = kuai.reshape %x, %flat : (tensor<2x64x128xf16>, tensor<2xi64>) -> tensor<128x128xf16>
  %l = kuai.linear %x2, %w, %b : (tensor<128x128xf16>, tensor<128x128xf16>, tensor<128xf16>) -> tensor<128x128xf16>
  %l3 = kuai.reshape %l, %rows : (tensor<128x128xf16>, tensor<3xi64>) -> tensor<2x64x128xf16>
  %y = kuai.add %l3, %r : (tensor<2x64x128xf16>, tensor<2x64x128xf16>) -> tensor<2x64x128xf16>
  return %y : tensor<2x64x128xf16>
}
