// RUN: kuai-opt %s -split-input-file --kuai-fold-shapes | FileCheck %s
// Pass: passes/FoldShapes.cpp

// Tests that Shape -> Gather -> Concat feeding a Reshape becomes a symbolic
// shape, the reshape gets symbolic result dims, and the subgraph is erased.
// CHECK-LABEL: func @split_heads
func.func @split_heads(%x: tensor<?x?x64xf32, #kuai.dims<batch, seq, 64>>) -> tensor<*xf32> {
  %shape = kuai.shape %x : (tensor<?x?x64xf32, #kuai.dims<batch, seq, 64>>) -> tensor<3xi64>
  %idx = kuai.constant dense<[0, 1]> : tensor<2xi64>
  %bs = kuai.gather %shape, %idx {axis = 0 : i64} : (tensor<3xi64>, tensor<2xi64>) -> tensor<2xi64>
  %heads = kuai.constant dense<[4, 16]> : tensor<2xi64>
  %target = kuai.concat %bs, %heads {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  // CHECK-NOT: kuai.shape
  // CHECK-NOT: kuai.concat
  // CHECK: %[[S:.*]] = kuai.sym_tensor <batch, seq, 4, 16> : tensor<4xi64>
  // CHECK: kuai.reshape %{{.*}}, %[[S]] {{.*}} -> tensor<?x?x4x16xf32, #kuai.dims<batch, seq, 4, 16>>
  %y = kuai.reshape %x, %target : (tensor<?x?x64xf32, #kuai.dims<batch, seq, 64>>, tensor<4xi64>) -> tensor<*xf32>
  // CHECK: return {{.*}} : tensor<?x?x4x16xf32, #kuai.dims<batch, seq, 4, 16>>
  return %y : tensor<*xf32>
}

// -----

// Tests that arithmetic on dims stays symbolic (seq + 1) and that a -1 in a
// reshape is solved by exact division (batch*seq*8 / 8 = batch*seq).
// CHECK-LABEL: func @arith
func.func @arith(%x: tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>) -> (tensor<*xi64>, tensor<*xf32>) {
  %shape = kuai.shape %x {start = 1 : i64, end = 2 : i64} : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>) -> tensor<1xi64>
  %one = kuai.constant dense<1> : tensor<1xi64>
  %next = kuai.add %shape, %one : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  // CHECK: kuai.sym_tensor <"seq + 1"> : tensor<i64>
  %zero = kuai.constant dense<0> : tensor<i64>
  %step = kuai.constant dense<1> : tensor<i64>
  %lim = kuai.constant dense<[]> : tensor<0xi64>
  %scalar = kuai.reshape %next, %lim : (tensor<1xi64>, tensor<0xi64>) -> tensor<*xi64>
  // CHECK: kuai.range {{.*}} -> tensor<?xi64, #kuai.dims<"seq + 1">>
  %r = kuai.range %zero, %scalar, %step : (tensor<i64>, tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %flat = kuai.constant dense<[-1, 8]> : tensor<2xi64>
  // CHECK: kuai.reshape {{.*}} -> tensor<?x8xf32, #kuai.dims<"batch*seq", 8>>
  %f = kuai.reshape %x, %flat : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<2xi64>) -> tensor<*xf32>
  return %r, %f : tensor<*xi64>, tensor<*xf32>
}

// -----

// Tests that ops on constants are evaluated by the reference kernels.
// CHECK-LABEL: func @constants
func.func @constants() -> tensor<*xf32> {
  %a = kuai.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  %b = kuai.constant dense<2.0> : tensor<f32>
  // CHECK-NOT: kuai.mul
  // CHECK: kuai.constant dense<[2.000000e+00, 4.000000e+00, 6.000000e+00]> : tensor<3xf32>
  %c = kuai.mul %a, %b : (tensor<3xf32>, tensor<f32>) -> tensor<*xf32>
  return %c : tensor<*xf32>
}

// -----

// Tests that a dim that cannot be known stays unknown rather than guessed:
// seq + 1 is not divisible by 2.
// CHECK-LABEL: func @not_divisible
func.func @not_divisible(%x: tensor<?xf32, #kuai.dims<"seq + 1">>) -> tensor<*xf32> {
  %s = kuai.constant dense<[2, -1]> : tensor<2xi64>
  // CHECK: kuai.reshape {{.*}} -> tensor<2x?xf32>
  %y = kuai.reshape %x, %s : (tensor<?xf32, #kuai.dims<"seq + 1">>, tensor<2xi64>) -> tensor<*xf32>
  return %y : tensor<*xf32>
}
