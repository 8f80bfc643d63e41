func.func @main(%x: tensor<?x8xf32, #kuai.dims<tokens, 8>> {kuai.name = "x"}) -> (tensor<?x8xf32, #kuai.dims<tokens, 8>> {kuai.name = "y"}) {
  %y = kuai.exp %x : (tensor<?x8xf32, #kuai.dims<tokens, 8>>) -> tensor<?x8xf32, #kuai.dims<tokens, 8>>
  return %y : tensor<?x8xf32, #kuai.dims<tokens, 8>>
}
