// RUN: kuai-opt %s -split-input-file -verify-diagnostics

// Tests that a declared result type that disagrees with inference is caught.
func.func @wrong_result(%x: tensor<2x3xf32>, %y: tensor<3xf32>) {
  // expected-error @+1 {{result 0 dimension 1 is 4 but inference gives 3}}
  %0 = kuai.add %x, %y : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x4xf32>
  return
}

// -----

// Tests that non-broadcastable operands are rejected.
func.func @not_broadcastable(%x: tensor<2x3xf32>, %y: tensor<4xf32>) {
  // expected-error @+1 {{operands are not broadcastable: dimension 1 is 3 and 4}}
  %0 = kuai.mul %x, %y : (tensor<2x3xf32>, tensor<4xf32>) -> tensor<2x3xf32>
  return
}

// -----

// Tests that an axis out of range is rejected.
func.func @bad_axis(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{axis 2 is out of range for rank 2}}
  %0 = kuai.softmax %x {axis = 2 : i64} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return
}

// -----

// Tests that a transpose permutation must be a permutation.
func.func @bad_perm(%x: tensor<2x3xf32>) {
  // expected-error @+1 {{perm is not a permutation of 0..1}}
  %0 = kuai.transpose %x {perm = array<i64: 0, 0>} : (tensor<2x3xf32>) -> tensor<2x2xf32>
  return
}

// -----

// Tests that concat inputs must agree outside the axis.
func.func @bad_concat(%x: tensor<2x3xf32>, %y: tensor<4x3xf32>) {
  // expected-error @+1 {{inputs differ in dimension 0 (2 and 4)}}
  %0 = kuai.concat %x, %y {axis = 1 : i64} : (tensor<2x3xf32>, tensor<4x3xf32>) -> tensor<2x6xf32>
  return
}

// -----

// Tests that a reshape to a different element count is rejected.
func.func @bad_reshape(%x: tensor<2x3xf32>) {
  %s = kuai.constant dense<[4, 2]> : tensor<2xi64>
  // expected-error @+1 {{cannot reshape 6 elements into 8}}
  %0 = kuai.reshape %x, %s : (tensor<2x3xf32>, tensor<2xi64>) -> tensor<4x2xf32>
  return
}

// -----

// Tests that matmul contraction dims must agree.
func.func @bad_matmul(%x: tensor<2x3xf32>, %y: tensor<4x5xf32>) {
  // expected-error @+1 {{contraction dimensions differ (3 and 4)}}
  %0 = kuai.matmul %x, %y : (tensor<2x3xf32>, tensor<4x5xf32>) -> tensor<2x5xf32>
  return
}
