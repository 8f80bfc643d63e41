//===- Passes.td - kuai passes ----------------------------*- tablegen -*-===//
#ifndef KUAI_PASSES_TD
#define KUAI_PASSES_TD

include "mlir/Pass/PassBase.td"

def FoldShapes : Pass<"kuai-fold-shapes", "mlir::func::FuncOp"> {
  let summary = "Fold shape subgraphs into static or symbolic shapes";
  let description = [{
    Exporters compute shapes at run time: `Shape`, `Gather`, `Concat`,
    `Range`, `Expand` and friends feed `Reshape` and masks. This pass
    evaluates those subgraphs at compile time, symbolically where they depend
    on the graph inputs' dynamic dimensions:

    * an integer tensor whose elements are known dimension expressions
      becomes a `kuai.constant` (all constant) or a `kuai.sym_tensor`;
    * an op whose operands are all constants is evaluated by the reference
      executor's kernels (up to `max-fold-elements` result elements: shape
      and mask constants fold, while a Transpose or Cast of a weight stays an
      op that later passes absorb, so weights are not duplicated);
    * result types are re-inferred, so `Reshape`, `Expand`, `Range`, ... get
      static or symbolic dimensions;
    * ops left without uses are erased.

    Example (`x` is `tensor<?x?x64xf32, #kuai.dims<batch, seq, 64>>`):

    ```mlir
    %shape = kuai.shape %x : (...) -> tensor<3xi64>
    %idx = kuai.constant dense<[0, 1]> : tensor<2xi64>
    %bs = kuai.gather %shape, %idx {axis = 0 : i64} : (...) -> tensor<2xi64>
    %heads = kuai.constant dense<[4, 16]> : tensor<2xi64>
    %target = kuai.concat %bs, %heads {axis = 0 : i64} : (...) -> tensor<4xi64>
    %y = kuai.reshape %x, %target : (...) -> tensor<*xf32>
    ```

    becomes

    ```mlir
    %0 = kuai.sym_tensor <batch, seq, 4, 16> : tensor<4xi64>
    %y = kuai.reshape %x, %0 : (...)
        -> tensor<?x?x4x16xf32, #kuai.dims<batch, seq, 4, 16>>
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
  let options = [
    Option<"maxFoldElements", "max-fold-elements", "int64_t",
           /*default=*/"65536",
           "Largest result (in elements) that constant folding materialises">
  ];
}

def DropEmptyPast : Pass<"kuai-drop-empty-past", "mlir::func::FuncOp"> {
  let summary = "Removes the empty past inputs and the present outputs of a "
                "past/present export";
  let description = [{
    A model exported with explicit past/present tensors (inputs
    `past_key_values.N.key` / `.value`, outputs `present.N.key` / `.value`,
    Concat of past and new keys inside) is, with a past of length 0, the
    full-sequence model. The importer gives the past inputs that length when
    asked (`ImportOptions::emptyPast`: kuai-compile `--kv-cache`, kuai-run
    generation and perplexity); after `kuai-fold-shapes` and canonicalization
    the Concats are their new keys and the past inputs unused. This pass
    erases those inputs and the `present.*` results, so that the function
    takes token ids alone and kuai-kv-cache turns it into the paged cache
    like any full-sequence model. A past input still used is an error that
    names it and its user. Without empty past inputs the pass does nothing.

    ```mlir
    func.func @main(%ids: tensor<?x?xi64>,
                    %past: tensor<?x2x0x16xf32> {kuai.name = "past_key_values.0.key"})
        -> (tensor<?x?x128xf32>, tensor<?x2x?x16xf32>) {
      ...
      return %logits, %k : ...   // %k named present.0.key
    }
    // becomes
    func.func @main(%ids: tensor<?x?xi64>) -> tensor<?x?x128xf32> {
      ...
      return %logits : ...
    }
    ```
  }];
}

def FuseLinear : Pass<"kuai-fuse-linear", "mlir::func::FuncOp"> {
  let summary = "MatMul/Gemm with constant weights (+ bias) to kuai.linear; "
                "embedding lookups to kuai.embedding";
  let description = [{
    * `MatMul(x, W)` with a constant 2-D `W` becomes `kuai.linear`;
      `MatMul(x, Transpose(W))` uses `W` in place with `transpose_weight`,
      as does `Gemm` with `transB` (alpha = beta = 1, no `transA`).
    * A following `Add` of a constant 1-D bias joins the linear.
    * `Reshape(linear(Reshape(x, [-1, K])), [..., N])` that merely flattens
      and restores the leading dims of `x` becomes `linear(x)`.
    * `Gather(table, ids)` on a constant 2-D table with integer ids becomes
      `kuai.embedding`.

    ```mlir
    %y = kuai.matmul %x, %w : (tensor<?x?x64xf32, ...>, tensor<64x256xf32>) -> ...
    %z = kuai.add %y, %b : ...
    // becomes
    %z = kuai.linear %x, %w, %b : ...
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def FuseNorms : Pass<"kuai-fuse-norms", "mlir::func::FuncOp"> {
  let summary = "RMSNorm and LayerNorm subgraphs to kuai.rms_norm / kuai.layer_norm";
  let description = [{
    Recognises, over the last axis only:

    * `x * reciprocal(sqrt(mean(x^2) + eps))` and `x / sqrt(mean(x^2) + eps)`
      (`x^2` as `Pow(x, 2)` or `x * x`), times an optional constant weight:
      `kuai.rms_norm`;
    * the same on `d = x - mean(x)`, with optional weight and bias:
      `kuai.layer_norm`;
    * ONNX `LayerNormalization` whose mean and inverse std outputs are unused.

    A reduction over another axis, a missing keepdims or an epsilon that is
    not a constant scalar leaves the subgraph alone.

    ```mlir
    %p = kuai.pow %x, %two
    %m = kuai.reduce_mean %p, %last {keepdims = 1}
    %e = kuai.add %m, %eps
    %s = kuai.sqrt %e
    %r = kuai.reciprocal %s
    %n = kuai.mul %x, %r
    %y = kuai.mul %w, %n
    // becomes
    %y = kuai.rms_norm %x, %w {epsilon = 1.0e-6 : f32}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def FuseActivations : Pass<"kuai-fuse-activations", "mlir::func::FuncOp"> {
  let summary = "GELU (erf, tanh) and SiLU subgraphs to single ops; "
                "act(gate) * up to kuai.glu";
  let description = [{
    An elementwise subgraph with a single non-constant input (other operands
    are scalar constants) is evaluated on probe values in [-8, 8] and
    compared with GELU (erf), GELU (tanh) and SiLU; when one matches to
    1e-5 it is replaced by `kuai.gelu` or `kuai.silu`, whatever way the
    exporter wrote it. Then `act(a) * b` with act one of those becomes
    `kuai.glu` (SwiGLU, GeGLU).

    ```mlir
    %s = kuai.sigmoid %g
    %a = kuai.mul %g, %s
    %y = kuai.mul %a, %u
    // becomes
    %y = kuai.glu %g, %u {activation = "silu"}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def FuseRotary : Pass<"kuai-fuse-rotary", "mlir::func::FuncOp"> {
  let summary = "Rotary position embeddings to kuai.rotary";
  let description = [{
    Recognises `x * cos + rotate_half(x) * sin`, `rotate_half(x)` being
    `concat(-x[..., d/2:], x[..., :d/2])`, and its partial form
    `concat(rotary(x[..., :r]), x[..., r:])`. The halves must split the
    rotated width exactly. When the cos/sin tables depend only on the
    sequence length, they are evaluated for several lengths; if they are
    `cos/sin(p * f)` for positions `p = 0..seq-1`, the frequencies become
    the op's `inv_freq` and the table subgraphs go away.

    ```mlir
    %a = kuai.mul %q, %cos
    %x1 = kuai.slice %q, [0], [8], [-1]
    %x2 = kuai.slice %q, [8], [MAX], [-1]
    %n = kuai.neg %x2
    %r = kuai.concat %n, %x1 {axis = -1}
    %b = kuai.mul %r, %sin
    %y = kuai.add %a, %b
    // becomes
    %y = kuai.rotary %q, %none, %none, %none {inv_freq = array<f32: ...>}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def FuseAttention : Pass<"kuai-fuse-attention", "mlir::func::FuncOp"> {
  let summary = "softmax(q·kᵀ·scale + mask)·v to kuai.attention";
  let description = [{
    Matches `MatMul(Softmax(MatMul(q', k') [* c] [+ bias], axis=-1), v)`
    where `q'`, `k'` may carry constant scalar scales, `k'` is `kᵀ` written
    as a Transpose or as Reshape/Transpose/Reshape, and the softmax output
    may pass through the `Where(IsNaN(p), 0, p)` guard of sdpa exports.
    Keys and values repeated for grouped-query attention
    (`Reshape(Expand(Unsqueeze(kv)))`) are used before repetition, so the op
    records the true number of KV heads. The additive bias stays an operand
    (`mask_kind = "bias"`) for `kuai-simplify-masks`. Softmax over another
    axis is not attention and is left alone.

    ```mlir
    %qs = kuai.mul %q, %c
    %kt = kuai.transpose %k {perm = [0, 1, 3, 2]}
    %s = kuai.matmul %qs, %kt
    %b = kuai.add %s, %bias
    %p = kuai.softmax %b {axis = -1}
    %o = kuai.matmul %p, %v
    // becomes
    %o = kuai.attention %q, %k, %v, %bias {mask_kind = "bias", scale = ...}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def FuseQkv : Pass<"kuai-fuse-qkv", "mlir::func::FuncOp"> {
  let summary = "The q, k and v projections of an attention to one linear "
                "and a split";
  let description = [{
    Linears that read the same input and feed one `kuai.attention`'s query,
    key or value (through reshapes and transposes only) become one linear
    whose weight (and bias) are theirs side by side along the output dim,
    followed by a `kuai.split` of its last axis: one matrix multiply, with
    the tiles of all three, instead of three. The code generator folds the
    split into the attention's strides (`kuai-fuse-kernels`), so no copy is
    added. Weights must be constants of one layout and element type, and
    biases all present or all absent; anything else is left alone, as are
    projections that feed other ops (a rotary, say), where the split would
    cost copies.

    ```mlir
    %q = kuai.linear %x, %wq, %bq {transpose_weight = true} : ...
    %k = kuai.linear %x, %wk, %bk {transpose_weight = true} : ...
    %v = kuai.linear %x, %wv, %bv {transpose_weight = true} : ...
    // ... reshapes and transposes of %q, %k, %v into kuai.attention
    // becomes
    %qkv = kuai.linear %x, %wqkv, %bqkv {transpose_weight = true} : ...
    %q, %k, %v = kuai.split %qkv, %sizes {axis = 2 : i64} : ...
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def SimplifyMasks : Pass<"kuai-simplify-masks", "mlir::func::FuncOp"> {
  let summary = "Attention bias subgraphs to causal / sliding-window / "
                "padding mask kinds";
  let description = [{
    The bias operand of a `kuai.attention` is computed by a subgraph of the
    graph inputs' shapes (causal, sliding window) and possibly of an
    attention-mask input (padding). The pass evaluates that subgraph with
    the reference kernels for several sequence lengths (and, for padding,
    several random masks) and compares it with each mask kind: entries that
    must be visible are 0, the others at most -1e30. Lengths include the
    neighbours of every integer constant in the subgraph, so a window of
    size w is seen. When one kind matches every probe, the attention takes
    that kind and the subgraph goes away; otherwise the bias stays.

    ```mlir
    %o = kuai.attention %q, %k, %v, %bias {mask_kind = "bias"}
    // becomes
    %o = kuai.attention %q, %k, %v, %none {mask_kind = "causal"}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def RaiseMoe : Pass<"kuai-raise-moe", "mlir::func::FuncOp"> {
  let summary = "Dense-masked mixture-of-experts blocks to kuai.moe";
  let description = [{
    Recognises the MoE form that exports write today: router
    `linear -> softmax -> TopK` (optionally renormalised by the sum of the
    top-k values), `ScatterElements` of the weights into a zero
    `[tokens, experts]` matrix, one gated expert MLP per expert
    (`linear(glu(linear(x), linear(x)))`, after `kuai-fuse-linear` and
    `kuai-fuse-activations`) scaled by its column and summed. Every expert
    must be present exactly once and read the router's input.

    ```mlir
    %r = kuai.linear %x, %wr
    %p = kuai.softmax %r
    %v, %i = kuai.topk %p, %k
    %d = kuai.scatter_elements %zeros, %i, %v {axis = -1}
    %w0 = kuai.slice %d, [0], [1], [1]
    %y0 = kuai.linear (kuai.glu (kuai.linear %x, %g0), (kuai.linear %x, %u0)), %d0
    %t0 = kuai.mul %w0, %y0
    ... one term per expert, added ...
    // becomes
    %y = kuai.moe %x, %wr, %g0, %u0, %d0, ... {top_k = 2, normalize = false}
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
}

def KvCache : Pass<"kuai-kv-cache", "mlir::func::FuncOp"> {
  let summary = "A full-sequence causal LM to one that appends a chunk of "
                "tokens to a paged KV cache";
  let description = [{
    The fixtures and most exports compute logits of a whole sequence. This
    pass makes the function take a chunk of new tokens per sequence and keep
    keys and values of the earlier ones in a paged cache, so one function
    serves prefill (a prompt chunk) and decode (one token):

    * new inputs `kv.past_lengths: [batch]` (positions cached before this
      chunk) and `kv.block_table: [batch, kv_blocks]` (page of each block of
      `page-size` positions), both i32, and per attention layer `L`
      `kv.key.L` / `kv.value.L`: `[kv_pages, kv_heads, page-size, head_dim]`
      in the key's element type;
    * each causal or sliding-window `kuai.attention` of the chunk becomes
      `kuai.paged_attention`, whose updated caches are new results named like
      the inputs they update, with `kuai.updates` = that input's index;
    * `kuai.rotary` (inv_freq form) gets `position_offset = kv.past_lengths`,
      so positions continue where the cache ends;
    * learned position embeddings (`table[Range(0, seq)]` added to the token
      embeddings, GPT-2) look up `past_lengths[b] + (0 .. seq-1)` instead.

    Refused with a message naming the op: attention with a padding or bias
    mask, keys that are not the chunk's own tokens, rotary from cos/sin
    tables, other uses of `Range` over the sequence, or a model without
    attention.

    ```mlir
    %r = kuai.rotary %k, %none, %none, %none {inv_freq = array<f32: ...>} : ...
    %o = kuai.attention %q, %r, %v, %none {mask_kind = "causal", scale = 0.125 : f32} : ...
    // becomes (with %past, %table and %kc, %vc new function arguments)
    %r = kuai.rotary %k, %none, %none, %past {inv_freq = array<f32: ...>} : ...
    %o, %kc2, %vc2 = kuai.paged_attention %q, %r, %v, %kc, %vc, %table, %past
        {mask_kind = "causal", scale = 0.125 : f32} : ...
    ```
  }];
  let dependentDialects = ["::kuai::KuaiDialect"];
  let options = [
    Option<"pageSize", "page-size", "int64_t", /*default=*/"16",
           "Tokens per KV cache page">
  ];
}

#endif
