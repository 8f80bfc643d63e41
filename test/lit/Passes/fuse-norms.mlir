// RUN: kuai-opt %s -split-input-file --kuai-fuse-norms | FileCheck %s
// Pass: passes/FuseNorms.cpp

// Tests the RMSNorm of Llama exports: pow, mean, add eps, sqrt, reciprocal,
// mul, times a weight.
// CHECK-LABEL: func @rms
func.func @rms(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %two = kuai.constant dense<2.0> : tensor<f32>
  %axes = kuai.constant dense<-1> : tensor<1xi64>
  %eps = kuai.constant dense<1.0e-06> : tensor<f32>
  %w = kuai.constant dense<1.5> : tensor<8xf32>
  %p = kuai.pow %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = kuai.reduce_mean %p, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  %e = kuai.add %m, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %s = kuai.sqrt %e : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %r = kuai.reciprocal %s : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kuai.mul %x, %r : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = kuai.mul %w, %n : (tensor<8xf32>, tensor<2x8xf32>) -> tensor<2x8xf32>
  // CHECK: %[[Y:.*]] = kuai.rms_norm %arg0, %{{.*}} {epsilon = 9.99999997E-7 : f32}
  // CHECK-NOT: kuai.sqrt
  // CHECK: return %[[Y]]
  return %y : tensor<2x8xf32>
}

// -----

// Tests that a mean over another axis than the last is not a norm.
// CHECK-LABEL: func @other_axis
func.func @other_axis(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %two = kuai.constant dense<2.0> : tensor<f32>
  %axes = kuai.constant dense<0> : tensor<1xi64>
  %eps = kuai.constant dense<1.0e-06> : tensor<f32>
  %p = kuai.pow %x, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %m = kuai.reduce_mean %p, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<1x8xf32>
  %e = kuai.add %m, %eps : (tensor<1x8xf32>, tensor<f32>) -> tensor<1x8xf32>
  %s = kuai.sqrt %e : (tensor<1x8xf32>) -> tensor<1x8xf32>
  %n = kuai.div %x, %s : (tensor<2x8xf32>, tensor<1x8xf32>) -> tensor<2x8xf32>
  // CHECK-NOT: kuai.rms_norm
  // CHECK: kuai.sqrt
  return %n : tensor<2x8xf32>
}

// -----

// Tests a LayerNorm written out (TorchScript exports) with weight and bias.
// CHECK-LABEL: func @layer_norm
func.func @layer_norm(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
  %two = kuai.constant dense<2.0> : tensor<f32>
  %axes = kuai.constant dense<1> : tensor<1xi64>
  %eps = kuai.constant dense<1.0e-05> : tensor<f32>
  %w = kuai.constant dense<1.5> : tensor<8xf32>
  %b = kuai.constant dense<0.5> : tensor<8xf32>
  %mu = kuai.reduce_mean %x, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  %d = kuai.sub %x, %mu : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %p = kuai.pow %d, %two : (tensor<2x8xf32>, tensor<f32>) -> tensor<2x8xf32>
  %v = kuai.reduce_mean %p, %axes : (tensor<2x8xf32>, tensor<1xi64>) -> tensor<2x1xf32>
  %e = kuai.add %v, %eps : (tensor<2x1xf32>, tensor<f32>) -> tensor<2x1xf32>
  %s = kuai.sqrt %e : (tensor<2x1xf32>) -> tensor<2x1xf32>
  %n = kuai.div %d, %s : (tensor<2x8xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
  %y = kuai.mul %n, %w : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  %z = kuai.add %y, %b : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
  // CHECK: %[[Y:.*]] = kuai.layer_norm %arg0, %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32}
  // CHECK: return %[[Y]]
  return %z : tensor<2x8xf32>
}

// -----

// Tests ONNX LayerNormalization whose statistics are unused.
// CHECK-LABEL: func @onnx_layer_norm
func.func @onnx_layer_norm(%x: tensor<2x8xf32>, %w: tensor<8xf32>) -> tensor<2x8xf32> {
  %none = kuai.none
  %y, %m, %i = kuai.layer_normalization %x, %w, %none {epsilon = 1.0e-05 : f32} : (tensor<2x8xf32>, tensor<8xf32>, none) -> (tensor<2x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>)
  // CHECK: kuai.layer_norm %arg0, %arg1
  // CHECK-NOT: kuai.layer_normalization
  return %y : tensor<2x8xf32>
}
