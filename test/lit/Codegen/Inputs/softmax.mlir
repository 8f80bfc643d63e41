func.func @main(%x: tensor<2x4xf32> {kuai.name = "x"}) -> (tensor<2x4xf32> {kuai.name = "y"}) {
  %y = kuai.softmax %x {axis = -1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32> loc("my_softmax")
  return %y : tensor<2x4xf32>
}
