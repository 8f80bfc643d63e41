// RUN: kuai-opt %s -split-input-file --kuai-fuse-activations | FileCheck %s
// Pass: passes/FuseActivations.cpp

// Tests GELU written with erf, whatever the constant folding left.
// CHECK-LABEL: func @gelu_erf
func.func @gelu_erf(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %isqrt2 = kuai.constant dense<0.707106769> : tensor<f32>
  %one = kuai.constant dense<1.0> : tensor<f32>
  %half = kuai.constant dense<0.5> : tensor<f32>
  %a = kuai.mul %x, %isqrt2 : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %e = kuai.erf %a : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %b = kuai.add %e, %one : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c = kuai.mul %x, %b : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = kuai.mul %c, %half : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  // CHECK: %[[Y:.*]] = kuai.gelu %arg0 : (tensor<4x8xf32>)
  // CHECK-NOT: kuai.erf
  // CHECK: return %[[Y]]
  return %y : tensor<4x8xf32>
}

// -----

// Tests the tanh approximation of GPT-2 (x^3 via Pow).
// CHECK-LABEL: func @gelu_tanh
func.func @gelu_tanh(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %half = kuai.constant dense<0.5> : tensor<f32>
  %three = kuai.constant dense<3.0> : tensor<f32>
  %k = kuai.constant dense<0.044715> : tensor<f32>
  %s = kuai.constant dense<0.797884583> : tensor<f32>
  %one = kuai.constant dense<1.0> : tensor<f32>
  %a = kuai.mul %x, %half : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %p = kuai.pow %x, %three : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %b = kuai.mul %p, %k : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %c = kuai.add %x, %b : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %d = kuai.mul %c, %s : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %t = kuai.tanh %d : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %e = kuai.add %t, %one : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %y = kuai.mul %a, %e : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: kuai.gelu %arg0 {approximate = "tanh"}
  return %y : tensor<4x8xf32>
}

// -----

// Tests GPT-2's tanh GELU exported in fp16, its constants rounded to fp16.
// CHECK-LABEL: func @gelu_tanh_f16
func.func @gelu_tanh_f16(%x: tensor<4x8xf16>) -> tensor<4x8xf16> {
  %half = kuai.constant dense<0.5> : tensor<f16>
  %three = kuai.constant dense<3.0> : tensor<f16>
  %k = kuai.constant dense<0.044715> : tensor<f16>
  %s = kuai.constant dense<0.797884583> : tensor<f16>
  %one = kuai.constant dense<1.0> : tensor<f16>
  %a = kuai.mul %x, %half : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %p = kuai.pow %x, %three : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %b = kuai.mul %p, %k : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %c = kuai.add %x, %b : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  %d = kuai.mul %c, %s : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %t = kuai.tanh %d : (tensor<4x8xf16>) -> tensor<4x8xf16>
  %e = kuai.add %t, %one : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %y = kuai.mul %a, %e : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  // CHECK: kuai.gelu %arg0 {approximate = "tanh"}
  // CHECK-NOT: kuai.tanh
  return %y : tensor<4x8xf16>
}

// -----

// Tests that erf GELU in bf16 stays the erf form: within bf16's tolerance
// the tanh form fits too, and the closer fit wins.
// CHECK-LABEL: func @gelu_erf_bf16
func.func @gelu_erf_bf16(%x: tensor<4x8xbf16>) -> tensor<4x8xbf16> {
  %isqrt2 = kuai.constant dense<0.707106769> : tensor<bf16>
  %one = kuai.constant dense<1.0> : tensor<bf16>
  %half = kuai.constant dense<0.5> : tensor<bf16>
  %a = kuai.mul %x, %isqrt2 : (tensor<4x8xbf16>, tensor<bf16>) -> tensor<4x8xbf16>
  %e = kuai.erf %a : (tensor<4x8xbf16>) -> tensor<4x8xbf16>
  %b = kuai.add %e, %one : (tensor<4x8xbf16>, tensor<bf16>) -> tensor<4x8xbf16>
  %c = kuai.mul %x, %b : (tensor<4x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  %y = kuai.mul %c, %half : (tensor<4x8xbf16>, tensor<bf16>) -> tensor<4x8xbf16>
  // CHECK: kuai.gelu %arg0 : (tensor<4x8xbf16>)
  return %y : tensor<4x8xbf16>
}

// -----

// Tests that an fp16 near miss is left alone: tanh(0.9 (x + 0.044715 x^3))
// is no GELU even at fp16's tolerance.
// CHECK-LABEL: func @not_gelu_f16
func.func @not_gelu_f16(%x: tensor<4x8xf16>) -> tensor<4x8xf16> {
  %half = kuai.constant dense<0.5> : tensor<f16>
  %three = kuai.constant dense<3.0> : tensor<f16>
  %k = kuai.constant dense<0.044715> : tensor<f16>
  %s = kuai.constant dense<0.9> : tensor<f16>
  %one = kuai.constant dense<1.0> : tensor<f16>
  %a = kuai.mul %x, %half : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %p = kuai.pow %x, %three : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %b = kuai.mul %p, %k : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %c = kuai.add %x, %b : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  %d = kuai.mul %c, %s : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %t = kuai.tanh %d : (tensor<4x8xf16>) -> tensor<4x8xf16>
  %e = kuai.add %t, %one : (tensor<4x8xf16>, tensor<f16>) -> tensor<4x8xf16>
  %y = kuai.mul %a, %e : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  // CHECK-NOT: kuai.gelu
  // CHECK: kuai.tanh
  return %y : tensor<4x8xf16>
}

// -----

// Tests SwiGLU: x*sigmoid(x) is SiLU, then act(gate) * up is a glu.
// CHECK-LABEL: func @swiglu
func.func @swiglu(%g: tensor<4x8xf32>, %u: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %s = kuai.sigmoid %g : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %a = kuai.mul %g, %s : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = kuai.mul %a, %u : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: %[[Y:.*]] = kuai.glu %arg0, %arg1 {activation = "silu"}
  // CHECK: return %[[Y]]
  return %y : tensor<4x8xf32>
}

// -----

// Tests that a near miss is left alone: x * sigmoid(2x) is not SiLU.
// CHECK-LABEL: func @not_silu
func.func @not_silu(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %two = kuai.constant dense<2.0> : tensor<f32>
  %d = kuai.mul %x, %two : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xf32>
  %s = kuai.sigmoid %d : (tensor<4x8xf32>) -> tensor<4x8xf32>
  %y = kuai.mul %x, %s : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NOT: kuai.silu
  // CHECK: kuai.sigmoid
  return %y : tensor<4x8xf32>
}
