// RUN: kuai-opt %s -split-input-file --kuai-simplify-masks | FileCheck %s
// Pass: passes/SimplifyMasks.cpp

// Tests a causal mask built from positions (Range, LessOrEqual, Where): the
// evaluation for several lengths proves it causal and the subgraph goes.
// CHECK-LABEL: func @causal
func.func @causal(%q: tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>> {
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %ax0 = kuai.constant dense<0> : tensor<1xi64>
  %ax1 = kuai.constant dense<1> : tensor<1xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-3.40282347E+38> : tensor<f32>
  %n = kuai.sym_tensor <seq> : tensor<i64>
  %pos = kuai.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %row = kuai.unsqueeze %pos, %ax1 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %col = kuai.unsqueeze %pos, %ax0 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<1x?xi64, #kuai.dims<1, seq>>
  %vis = kuai.less_or_equal %col, %row : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %bias = kuai.where %vis, %f0, %fmin : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32, #kuai.dims<seq, seq>>
  // CHECK: kuai.attention %arg0, %arg0, %arg0, %{{.*}} {mask_kind = "causal", scale = 1.000000e+00 : f32} : ({{.*}}, none)
  // CHECK-NOT: kuai.range
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<?x?xf32, #kuai.dims<seq, seq>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
  return %o : tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
}

// -----

// Tests a sliding window of 4: keys at distance 4 or more are masked; the
// constant 4 makes the probes reach past the window.
// CHECK-LABEL: func @sliding_window
func.func @sliding_window(%q: tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>> {
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %w = kuai.constant dense<4> : tensor<i64>
  %ax0 = kuai.constant dense<0> : tensor<1xi64>
  %ax1 = kuai.constant dense<1> : tensor<1xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-3.40282347E+38> : tensor<f32>
  %n = kuai.sym_tensor <seq> : tensor<i64>
  %pos = kuai.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %row = kuai.unsqueeze %pos, %ax1 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %col = kuai.unsqueeze %pos, %ax0 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<1x?xi64, #kuai.dims<1, seq>>
  %causal = kuai.less_or_equal %col, %row : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %lo = kuai.sub %row, %w : (tensor<?x1xi64, #kuai.dims<seq, 1>>, tensor<i64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %near = kuai.greater %col, %lo : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %vis = kuai.and %causal, %near : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<?x?xi1, #kuai.dims<seq, seq>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %bias = kuai.where %vis, %f0, %fmin : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32, #kuai.dims<seq, seq>>
  // CHECK: {mask_kind = "sliding_window", scale = 1.000000e+00 : f32, window = 4 : i64}
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<?x?xf32, #kuai.dims<seq, seq>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
  return %o : tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
}

// -----

// Tests that a mask that is not causal (keys after the query visible, the
// past masked) stays a bias.
// CHECK-LABEL: func @anti_causal
func.func @anti_causal(%q: tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>> {
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %ax0 = kuai.constant dense<0> : tensor<1xi64>
  %ax1 = kuai.constant dense<1> : tensor<1xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-3.40282347E+38> : tensor<f32>
  %n = kuai.sym_tensor <seq> : tensor<i64>
  %pos = kuai.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %row = kuai.unsqueeze %pos, %ax1 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %col = kuai.unsqueeze %pos, %ax0 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<1x?xi64, #kuai.dims<1, seq>>
  %vis = kuai.greater_or_equal %col, %row : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %bias = kuai.where %vis, %f0, %fmin : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32, #kuai.dims<seq, seq>>
  // CHECK: {mask_kind = "bias"
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<?x?xf32, #kuai.dims<seq, seq>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
  return %o : tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
}

// -----

// Tests a padding mask from an attention_mask input (BERT): the bias is
// evaluated with random masks and becomes mask_kind "padding" reading the
// input directly.
// CHECK-LABEL: func @padding
func.func @padding(%q: tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>, %am: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>> {
  %axes = kuai.constant dense<[1, 2]> : tensor<2xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-3.40282347E+38> : tensor<f32>
  %u = kuai.unsqueeze %am, %axes : (tensor<?x?xi64, #kuai.dims<batch, seq>>, tensor<2xi64>) -> tensor<?x1x1x?xi64, #kuai.dims<batch, 1, 1, seq>>
  %b = kuai.cast %u {to = 9 : i64} : (tensor<?x1x1x?xi64, #kuai.dims<batch, 1, 1, seq>>) -> tensor<?x1x1x?xi1, #kuai.dims<batch, 1, 1, seq>>
  %s = kuai.sym_tensor <batch, 1, seq, seq> : tensor<4xi64>
  %e = kuai.expand %b, %s : (tensor<?x1x1x?xi1, #kuai.dims<batch, 1, 1, seq>>, tensor<4xi64>) -> tensor<?x1x?x?xi1, #kuai.dims<batch, 1, seq, seq>>
  %bias = kuai.where %e, %f0, %fmin : (tensor<?x1x?x?xi1, #kuai.dims<batch, 1, seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x1x?x?xf32, #kuai.dims<batch, 1, seq, seq>>
  // CHECK: kuai.attention %arg0, %arg0, %arg0, %arg1 {mask_kind = "padding", scale = 1.000000e+00 : f32}
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>, tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>, tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>, tensor<?x1x?x?xf32, #kuai.dims<batch, 1, seq, seq>>) -> tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>
  return %o : tensor<?x2x?x8xf32, #kuai.dims<batch, 2, seq, 8>>
}

// -----

// Tests the causal mask of an fp16 export: masked entries hold the fp16
// lowest (-65504), not -inf; they count as masked.
// CHECK-LABEL: func @causal_fp16_lowest
func.func @causal_fp16_lowest(%q: tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>> {
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %ax0 = kuai.constant dense<0> : tensor<1xi64>
  %ax1 = kuai.constant dense<1> : tensor<1xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-65504.0> : tensor<f32>
  %n = kuai.sym_tensor <seq> : tensor<i64>
  %pos = kuai.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %row = kuai.unsqueeze %pos, %ax1 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %col = kuai.unsqueeze %pos, %ax0 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<1x?xi64, #kuai.dims<1, seq>>
  %vis = kuai.less_or_equal %col, %row : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %bias = kuai.where %vis, %f0, %fmin : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32, #kuai.dims<seq, seq>>
  // CHECK: kuai.attention %arg0, %arg0, %arg0, %{{.*}} {mask_kind = "causal", scale = 1.000000e+00 : f32} : ({{.*}}, none)
  // CHECK-NOT: kuai.range
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<?x?xf32, #kuai.dims<seq, seq>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
  return %o : tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
}

// -----

// Tests a near miss: -60000 is above the fp16 lowest and stays a bias.
// CHECK-LABEL: func @not_quite_masked
func.func @not_quite_masked(%q: tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>> {
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %ax0 = kuai.constant dense<0> : tensor<1xi64>
  %ax1 = kuai.constant dense<1> : tensor<1xi64>
  %f0 = kuai.constant dense<0.0> : tensor<f32>
  %fmin = kuai.constant dense<-60000.0> : tensor<f32>
  %n = kuai.sym_tensor <seq> : tensor<i64>
  %pos = kuai.range %zero, %n, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %row = kuai.unsqueeze %pos, %ax1 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<?x1xi64, #kuai.dims<seq, 1>>
  %col = kuai.unsqueeze %pos, %ax0 : (tensor<?xi64, #kuai.dims<seq>>, tensor<1xi64>) -> tensor<1x?xi64, #kuai.dims<1, seq>>
  %vis = kuai.less_or_equal %col, %row : (tensor<1x?xi64, #kuai.dims<1, seq>>, tensor<?x1xi64, #kuai.dims<seq, 1>>) -> tensor<?x?xi1, #kuai.dims<seq, seq>>
  %bias = kuai.where %vis, %f0, %fmin : (tensor<?x?xi1, #kuai.dims<seq, seq>>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32, #kuai.dims<seq, seq>>
  // CHECK: kuai.range
  // CHECK: mask_kind = "bias"
  %o = kuai.attention %q, %q, %q, %bias {mask_kind = "bias", scale = 1.0 : f32} : (tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>, tensor<?x?xf32, #kuai.dims<seq, seq>>) -> tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
  return %o : tensor<1x2x?x8xf32, #kuai.dims<1, 2, seq, 8>>
}
