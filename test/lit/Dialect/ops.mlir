// RUN: kuai-opt %s -split-input-file | kuai-opt -split-input-file | FileCheck %s
// RUN: kuai-opt %s -split-input-file -verify-diagnostics -allow-unregistered-dialect -o /dev/null

// Tests that symbolic dims survive a print/parse round trip.
// CHECK-LABEL: func @dims
// CHECK-SAME: tensor<?x?x256xf32, #kuai.dims<batch, seq, 256>>
// CHECK: kuai.sym_tensor <batch, "seq + 1", "2*batch"> : tensor<3xi64>
func.func @dims(%x: tensor<?x?x256xf32, #kuai.dims<batch, seq, 256>>) -> tensor<3xi64> {
  %s = kuai.sym_tensor <batch, "seq + 1", "2*batch"> : tensor<3xi64>
  return %s : tensor<3xi64>
}

// -----

// Tests that inference keeps symbolic dims through broadcasting.
// CHECK-LABEL: func @broadcast
func.func @broadcast(%x: tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, %y: tensor<8xf32>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>> {
  // CHECK: kuai.add
  %0 = kuai.add %x, %y : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<8xf32>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  return %0 : tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
}
