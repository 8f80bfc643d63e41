// RUN: kuai-opt %s -split-input-file -verify-diagnostics --canonicalize --kuai-drop-empty-past | FileCheck %s
// RUN: kuai-compile %S/../../models/torchscript/llama-past-like/model.onnx --kv-cache --emit=graph | FileCheck %s --check-prefix=IMPORT
// RUN: kuai-compile %S/../../models/torchscript/llama-past-like/model.onnx --emit=graph | FileCheck %s --check-prefix=KEEP
// Pass: passes/DropEmptyPast.cpp. Numerics: test/numerics/past_present.py.

// Tests that a past input of length 0 (as the importer gives it with an
// empty past) goes once the Concat of past and new keys folds to the new
// keys, and that the present output goes with it.
// CHECK-LABEL: func @layer
// CHECK-SAME: (%[[IDS:[^:]+]]: tensor<?x?xi64, #kuai.dims<batch, seq>> {kuai.name = "input_ids"}, %[[K:[^:]+]]: tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>)
// CHECK-SAME: -> (tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>> {kuai.name = "logits"})
// CHECK-NOT: kuai.concat
// CHECK: return %[[K]] :
func.func @layer(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>> {kuai.name = "input_ids"},
                 %past: tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>> {kuai.name = "past_key_values.0.key"},
                 %k: tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>)
    -> (tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>> {kuai.name = "logits"},
        tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>> {kuai.name = "present.0.key"}) {
  %all = kuai.concat %past, %k {axis = 2 : i64} : (tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>>, tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>) -> tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>
  return %k, %all : tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>, tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>
}

// -----

// Tests that a past input of unknown length (a past/present model imported
// as it is) stays, with its present output.
// CHECK-LABEL: func @real_past
// CHECK-SAME: {kuai.name = "past_key_values.0.key"}
// CHECK-SAME: {kuai.name = "present.0.key"}
// CHECK: kuai.concat
func.func @real_past(%past: tensor<?x2x?x16xf32, #kuai.dims<batch, 2, past, 16>> {kuai.name = "past_key_values.0.key"},
                     %k: tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>)
    -> (tensor<?x2x?x16xf32, #kuai.dims<batch, 2, "past + seq", 16>> {kuai.name = "present.0.key"}) {
  %all = kuai.concat %past, %k {axis = 2 : i64} : (tensor<?x2x?x16xf32, #kuai.dims<batch, 2, past, 16>>, tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>) -> tensor<?x2x?x16xf32, #kuai.dims<batch, 2, "past + seq", 16>>
  return %all : tensor<?x2x?x16xf32, #kuai.dims<batch, 2, "past + seq", 16>>
}

// -----

// Tests that an empty past read by anything else than a Concat is an error
// naming the input and the op.
// expected-error @+1 {{kuai-drop-empty-past: the empty past input 'past_key_values.0.value' is still used after folding (by kuai.transpose)}}
func.func @other_use(%past: tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>> {kuai.name = "past_key_values.0.value"})
    -> (tensor<?x0x2x16xf32, #kuai.dims<batch, 0, 2, 16>> {kuai.name = "logits"}) {
  // expected-note @+1 {{used here}}
  %t = kuai.transpose %past {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>>) -> tensor<?x0x2x16xf32, #kuai.dims<batch, 0, 2, 16>>
  return %t : tensor<?x0x2x16xf32, #kuai.dims<batch, 0, 2, 16>>
}

// -----

// Tests that a model returning present tensors alone is an error.
// expected-error @+1 {{kuai-drop-empty-past: every output is a present.* tensor; no logits left}}
func.func @presents_only(%past: tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>> {kuai.name = "past_key_values.0.key"},
                         %k: tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>)
    -> (tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>> {kuai.name = "present.0.key"}) {
  %all = kuai.concat %past, %k {axis = 2 : i64} : (tensor<?x2x0x16xf32, #kuai.dims<batch, 2, 0, 16>>, tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>) -> tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>
  return %all : tensor<?x2x?x16xf32, #kuai.dims<batch, 2, seq, 16>>
}

// Tests the whole path on a past/present export of torch 1.13's exporter:
// with --kv-cache the importer gives the past length 0, the Concats fold and
// the function takes the token ids alone; without, past and present stay.
// IMPORT-LABEL: func.func @main
// IMPORT-SAME: (%{{[^:]+}}: tensor<?x?xi64, #kuai.dims<batch, seq>> {kuai.name = "input_ids"}) -> (tensor<?x?x128xf32, #kuai.dims<batch, seq, 128>> {kuai.name = "logits"})
// IMPORT-NOT: past_key_values
// IMPORT-NOT: present.
// KEEP-LABEL: func.func @main
// KEEP-SAME: {kuai.name = "past_key_values.1.value"}
// KEEP-SAME: {kuai.name = "present.1.value"}
