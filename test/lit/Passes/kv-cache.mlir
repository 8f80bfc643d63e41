// RUN: kuai-opt %S/Inputs/kv-cache-gqa.mlir --kuai-kv-cache | FileCheck %s
// RUN: kuai-opt %S/Inputs/kv-cache-gqa.mlir --kuai-kv-cache=page-size=4 | FileCheck %s --check-prefix=PAGE4
// RUN: kuai-opt %S/Inputs/kv-cache-window.mlir --kuai-kv-cache | FileCheck %s --check-prefix=WINDOW
// RUN: kuai-opt %s -split-input-file -verify-diagnostics --kuai-kv-cache
// Pass: passes/KvCache.cpp. Numerics: test/lit/Tools/kv-cache.test runs the
// Inputs models through kuai-run --compare-full-recompute.

// Tests a two-head / one-KV-head causal layer with rotary (GQA): new inputs
// past lengths, block table and the layer's key/value pages; rotary offset by
// the past lengths; attention appended to the pages; updated pages returned
// with the index of the input they update.
// CHECK-LABEL: func @main
// CHECK-SAME: %[[IDS:[^:]+]]: tensor<?x?xi64, #kuai.dims<batch, seq>> {kuai.name = "input_ids"}
// CHECK-SAME: %[[PAST:[^:]+]]: tensor<?xi32, #kuai.dims<batch>> {kuai.name = "kv.past_lengths"}
// CHECK-SAME: %[[TABLE:[^:]+]]: tensor<?x?xi32, #kuai.dims<batch, kv_blocks>> {kuai.name = "kv.block_table"}
// CHECK-SAME: %[[KC:[^:]+]]: tensor<?x1x16x8xf32, #kuai.dims<kv_pages, 1, 16, 8>> {kuai.name = "kv.key.0"}
// CHECK-SAME: %[[VC:[^:]+]]: tensor<?x1x16x8xf32, #kuai.dims<kv_pages, 1, 16, 8>> {kuai.name = "kv.value.0"}
// CHECK-SAME: {kuai.name = "logits"}
// CHECK-SAME: {kuai.name = "kv.key.0", kuai.updates = 3 : i64}
// CHECK-SAME: {kuai.name = "kv.value.0", kuai.updates = 4 : i64}
// CHECK: %[[Q:.*]] = kuai.rotary %{{.*}}, %{{.*}}, %{{.*}}, %[[PAST]] {inv_freq
// CHECK: %[[K:.*]] = kuai.rotary %{{.*}}, %{{.*}}, %{{.*}}, %[[PAST]] {inv_freq
// CHECK-NOT: kuai.attention
// CHECK: %[[O:[^,]+]], %[[NK:[^,]+]], %[[NV:[^ ]+]] = kuai.paged_attention %[[Q]], %[[K]], %{{.*}}, %[[KC]], %[[VC]], %[[TABLE]], %[[PAST]] {scale = 3.540000e-01 : f32}
// CHECK: return %{{.*}}, %[[NK]], %[[NV]]
// PAGE4-LABEL: func @main
// PAGE4-SAME: tensor<?x1x4x8xf32, #kuai.dims<kv_pages, 1, 4, 8>> {kuai.name = "kv.key.0"}

// Tests that a sliding window stays a window over the cached positions.
// WINDOW: kuai.paged_attention {{.*}} {mask_kind = "sliding_window", scale = 3.540000e-01 : f32, window = 3 : i64}

// Tests that attention without a causal mask is refused, naming the op.
func.func @unmasked(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>> {
  %none = kuai.none
  %table = kuai.constant dense<0.5> : tensor<4x8xf32>
  %x = kuai.embedding %table, %ids : (tensor<4x8xf32>, tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  %s = kuai.sym_tensor <batch, 1, seq, 8> : tensor<4xi64>
  %t = kuai.reshape %x, %s : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<4xi64>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  // expected-error @+1 {{kuai-kv-cache: attention with mask kind 'none' cannot use the cache (causal and sliding_window can)}}
  %a = kuai.attention %t, %t, %t, %none {mask_kind = "none", scale = 0.5 : f32} : (tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, none) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  return %a : tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
}

// -----

// Tests that rotary from cos/sin tables is refused (its positions are in
// the tables).

func.func @tables(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>> {
  %none = kuai.none
  %table = kuai.constant dense<0.5> : tensor<4x8xf32>
  %x = kuai.embedding %table, %ids : (tensor<4x8xf32>, tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  %s = kuai.sym_tensor <batch, 1, seq, 8> : tensor<4xi64>
  %t = kuai.reshape %x, %s : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<4xi64>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  %cos = kuai.constant dense<1.0> : tensor<8xf32>
  // expected-error @+1 {{kuai-kv-cache: rotary from cos/sin tables cannot be offset yet (only the inv_freq form)}}
  %r = kuai.rotary %t, %cos, %cos, %none : (tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<8xf32>, tensor<8xf32>, none) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  %a = kuai.attention %r, %r, %r, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, none) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  return %a : tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
}

// -----

// Tests that positions from Range are refused unless they are looked up in
// a position embedding added to the token embeddings (GPT-2's form, checked
// through kuai-run in test/lit/Tools/kv-cache.test).

func.func @unused_positions(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>> {
  %none = kuai.none
  %table = kuai.constant dense<0.5> : tensor<4x8xf32>
  %x = kuai.embedding %table, %ids : (tensor<4x8xf32>, tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  %s = kuai.sym_tensor <batch, 1, seq, 8> : tensor<4xi64>
  %t = kuai.reshape %x, %s : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<4xi64>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  %zero = kuai.constant dense<0> : tensor<i64>
  %one = kuai.constant dense<1> : tensor<i64>
  %len = kuai.sym_tensor <seq> : tensor<i64>
  // expected-error @+1 {{kuai-kv-cache: positions computed with Range must be 0 .. seq-1 looked up in a position embedding that is added to the token embeddings}}
  %pos = kuai.range %zero, %len, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64, #kuai.dims<seq>>
  %a = kuai.attention %t, %t, %t, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, none) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  return %a : tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
}

// -----

// Tests that a model without attention is refused.
// expected-error @+2 {{kuai-kv-cache: @no_attention has no attention to cache}}

func.func @no_attention(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>> {
  %none = kuai.none
  %table = kuai.constant dense<0.5> : tensor<4x8xf32>
  %x = kuai.embedding %table, %ids : (tensor<4x8xf32>, tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  %s = kuai.sym_tensor <batch, 1, seq, 8> : tensor<4xi64>
  %t = kuai.reshape %x, %s : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<4xi64>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>

  return %t : tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
}

// -----

// Tests that a second input (an attention mask, say) is refused.
// expected-error @+2 {{kuai-kv-cache: needs a causal LM with one input (token ids [batch, seq]), @two_inputs has 2}}

func.func @two_inputs(%ids: tensor<?x?xi64, #kuai.dims<batch, seq>>, %mask: tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>> {
  %none = kuai.none
  %table = kuai.constant dense<0.5> : tensor<4x8xf32>
  %x = kuai.embedding %table, %ids : (tensor<4x8xf32>, tensor<?x?xi64, #kuai.dims<batch, seq>>) -> tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>
  %s = kuai.sym_tensor <batch, 1, seq, 8> : tensor<4xi64>
  %t = kuai.reshape %x, %s : (tensor<?x?x8xf32, #kuai.dims<batch, seq, 8>>, tensor<4xi64>) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  %a = kuai.attention %t, %t, %t, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>, none) -> tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
  return %a : tensor<?x1x?x8xf32, #kuai.dims<batch, 1, seq, 8>>
}
