// RUN: kuai-opt %s --kuai-raise | FileCheck %s
// Pipeline: passes/Pipelines.cpp (kuai-raise), with the helpers of
// passes/RaiseUtils.cpp.

// Tests the whole pipeline on a pre-norm attention block: the norm, the
// projections (one linear for q, k and v, split), the attention and its
// scale are raised, and the dead primitives are gone.
// CHECK-LABEL: func @block
func.func @block(%x: tensor<1x5x8xf32>) -> tensor<1x5x8xf32> {
  %two = kuai.constant dense<2.0> : tensor<f32>
  %axes = kuai.constant dense<-1> : tensor<1xi64>
  %eps = kuai.constant dense<1.0e-06> : tensor<f32>
  %wq = kuai.constant dense<0.1> : tensor<8x8xf32>
  %wk = kuai.constant dense<0.2> : tensor<8x8xf32>
  %wv = kuai.constant dense<0.3> : tensor<8x8xf32>
  %heads = kuai.constant dense<[1, 5, 2, 4]> : tensor<4xi64>
  %merged = kuai.constant dense<[1, 5, 8]> : tensor<3xi64>
  %c = kuai.constant dense<0.5> : tensor<f32>
  %p = kuai.pow %x, %two : (tensor<1x5x8xf32>, tensor<f32>) -> tensor<1x5x8xf32>
  %m = kuai.reduce_mean %p, %axes : (tensor<1x5x8xf32>, tensor<1xi64>) -> tensor<1x5x1xf32>
  %e = kuai.add %m, %eps : (tensor<1x5x1xf32>, tensor<f32>) -> tensor<1x5x1xf32>
  %s = kuai.sqrt %e : (tensor<1x5x1xf32>) -> tensor<1x5x1xf32>
  %n = kuai.div %x, %s : (tensor<1x5x8xf32>, tensor<1x5x1xf32>) -> tensor<1x5x8xf32>
  %q0 = kuai.matmul %n, %wq : (tensor<1x5x8xf32>, tensor<8x8xf32>) -> tensor<1x5x8xf32>
  %k0 = kuai.matmul %n, %wk : (tensor<1x5x8xf32>, tensor<8x8xf32>) -> tensor<1x5x8xf32>
  %v0 = kuai.matmul %n, %wv : (tensor<1x5x8xf32>, tensor<8x8xf32>) -> tensor<1x5x8xf32>
  %q1 = kuai.reshape %q0, %heads : (tensor<1x5x8xf32>, tensor<4xi64>) -> tensor<1x5x2x4xf32>
  %k1 = kuai.reshape %k0, %heads : (tensor<1x5x8xf32>, tensor<4xi64>) -> tensor<1x5x2x4xf32>
  %v1 = kuai.reshape %v0, %heads : (tensor<1x5x8xf32>, tensor<4xi64>) -> tensor<1x5x2x4xf32>
  %q = kuai.transpose %q1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x5x2x4xf32>) -> tensor<1x2x5x4xf32>
  %kt = kuai.transpose %k1 {perm = array<i64: 0, 2, 3, 1>} : (tensor<1x5x2x4xf32>) -> tensor<1x2x4x5xf32>
  %v = kuai.transpose %v1 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x5x2x4xf32>) -> tensor<1x2x5x4xf32>
  %sc = kuai.matmul %q, %kt : (tensor<1x2x5x4xf32>, tensor<1x2x4x5xf32>) -> tensor<1x2x5x5xf32>
  %ss = kuai.mul %sc, %c : (tensor<1x2x5x5xf32>, tensor<f32>) -> tensor<1x2x5x5xf32>
  %pr = kuai.softmax %ss {axis = -1 : i64} : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %o = kuai.matmul %pr, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x5x4xf32>
  %ot = kuai.transpose %o {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x2x5x4xf32>) -> tensor<1x5x2x4xf32>
  %y = kuai.reshape %ot, %merged : (tensor<1x5x2x4xf32>, tensor<3xi64>) -> tensor<1x5x8xf32>
  // CHECK: kuai.rms_norm %arg0
  // CHECK: kuai.linear {{.*}} -> tensor<1x5x24xf32>
  // CHECK-NEXT: kuai.split
  // CHECK-NOT: kuai.linear
  // CHECK: kuai.attention {{.*}} {scale = 5.000000e-01 : f32}
  // CHECK-NOT: kuai.softmax
  // CHECK-NOT: kuai.matmul
  // CHECK-NOT: kuai.sqrt
  return %y : tensor<1x5x8xf32>
}
