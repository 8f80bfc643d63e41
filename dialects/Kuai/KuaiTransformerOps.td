//===- KuaiTransformerOps.td - Transformer-level ops ------*- tablegen -*-===//
//
// What `kuai-raise` turns exported primitive subgraphs into. Each op is
// executable by the reference executor, so every raise is checked
// numerically against the graph it replaced.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_TRANSFORMER_OPS_TD
#define KUAI_TRANSFORMER_OPS_TD

class Kuai_TransformerOp<string mnemonic, list<Trait> traits = []>
    : Kuai_Op<mnemonic, !listconcat(traits, [Kuai_InferShapesOpInterface])> {
  let assemblyFormat = "operands attr-dict `:` functional-type(operands, results)";
}

def Kuai_LinearOp : Kuai_TransformerOp<"linear"> {
  let summary = "x · W (+ b), weight in [in, out] or [out, in] layout";
  let description = [{
    `y[..., n] = sum_k x[..., k] * W[k, n] + bias[n]`. With
    `transpose_weight`, the weight is stored `[out, in]` (PyTorch's layout,
    Gemm's `transB`) and used transposed; the weight is never copied to change
    its layout.
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$weight, Kuai_OptTensor:$bias,
                   DefaultValuedAttr<BoolAttr, "false">:$transpose_weight);
  let results = (outs AnyTensor:$output);
}

def Kuai_EmbeddingOp : Kuai_TransformerOp<"embedding"> {
  let summary = "Token embedding lookup: table[ids]";
  let arguments = (ins AnyTensor:$table, AnyTensor:$ids);
  let results = (outs AnyTensor:$output);
}

def Kuai_RmsNormOp : Kuai_TransformerOp<"rms_norm"> {
  let summary = "RMS normalisation over the last axis";
  let description = [{
    `y = x / sqrt(mean(x^2, -1) + epsilon) * weight`; without a weight the
    scale is 1. Gemma's `(1 + w)` form arrives with `1 + w` folded into the
    weight constant.
  }];
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$weight,
                   F32Attr:$epsilon);
  let results = (outs AnyTensor:$output);
}

def Kuai_LayerNormOp : Kuai_TransformerOp<"layer_norm"> {
  let summary = "Layer normalisation over the dims from `axis` on";
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$weight,
                   Kuai_OptTensor:$bias, F32Attr:$epsilon,
                   DefaultValuedAttr<Kuai_I64Attr, "-1">:$axis);
  let results = (outs AnyTensor:$output);
}

def Kuai_SiluOp : Kuai_TransformerOp<"silu"> {
  let summary = "x * sigmoid(x)";
  let arguments = (ins AnyTensor:$input);
  let results = (outs AnyTensor:$output);
}

def Kuai_GluOp : Kuai_TransformerOp<"glu"> {
  let summary = "Gated linear unit: act(gate) * up (SwiGLU, GeGLU)";
  let description = [{
    `activation` is `silu` (SwiGLU), `gelu` (GeGLU, erf) or `gelu_tanh`.
  }];
  let arguments = (ins AnyTensor:$gate, AnyTensor:$up, StrAttr:$activation);
  let results = (outs AnyTensor:$output);
}

def Kuai_RotaryOp : Kuai_TransformerOp<"rotary"> {
  let summary = "Rotary position embedding of the last axis";
  let description = [{
    Rotates the first `rotary_dim` features of each position (all when 0),
    passing the rest through. `half` layout (GPT-NeoX, Llama): feature `i`
    pairs with `i + rotary_dim/2`; `interleaved` (GPT-J): `2i` with `2i+1`.

    The angles come either from `cos`/`sin` operands broadcastable to
    `[..., seq, rotary_dim]`, or, when `inv_freq` is set (and the operands
    are `none`), from positions `0 .. seq-1` (the second-to-last axis of the
    input) times `inv_freq`: `angle[p, i] = p * inv_freq[i mod rotary_dim/2]`.
    With `position_offset` (`[batch]` integers, inv_freq form only, the
    input `[batch, ..., seq, d]`), sequence `b` is at positions
    `offset[b] .. offset[b] + seq - 1`: what `kuai-kv-cache` gives a chunk of
    tokens that follows the cached ones.
  }];
  let arguments = (ins AnyTensor:$input, Kuai_OptTensor:$cos,
                   Kuai_OptTensor:$sin, Kuai_OptTensor:$position_offset,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$rotary_dim,
                   DefaultValuedAttr<BoolAttr, "false">:$interleaved,
                   OptionalAttr<DenseF32ArrayAttr>:$inv_freq);
  let results = (outs AnyTensor:$output);
}

def Kuai_AttentionOp : Kuai_TransformerOp<"attention"> {
  let summary = "Scaled dot-product attention (MHA, GQA, MQA)";
  let description = [{
    `q: [B, Hq, Sq, D]`, `k: [B, Hkv, Skv, D]`, `v: [B, Hkv, Skv, Dv]` with
    `Hq` a multiple of `Hkv` (query head `h` reads kv head
    `h / (Hq / Hkv)`); result `[B, Hq, Sq, Dv]`.
    `softmax(scale * q·kᵀ + mask) · v` where `mask_kind` is

    * `none`: no mask;
    * `bias`: the `mask` operand is added to the scores (broadcastable to
      `[B, Hq, Sq, Skv]`);
    * `causal`: key `j` is visible to query `i` when `j <= i + Skv - Sq`;
    * `sliding_window`: causal and `i + Skv - Sq - j < window`;
    * `padding`: `mask` is `[B, Skv]`, key `j` visible where it is nonzero;
    * `causal_padding`: both.

    A query row whose keys are all masked yields zeros.
  }];
  let arguments = (ins AnyTensor:$query, AnyTensor:$key, AnyTensor:$value,
                   Kuai_OptTensor:$mask, F32Attr:$scale,
                   DefaultValuedStrAttr<StrAttr, "none">:$mask_kind,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$window);
  let results = (outs AnyTensor:$output);
}

def Kuai_PagedAttentionOp : Kuai_TransformerOp<"paged_attention"> {
  let summary = "Causal attention of new tokens over a paged KV cache that "
                "they are appended to";
  let description = [{
    `query: [B, Hq, S, D]`, `key: [B, Hkv, S, D]`, `value: [B, Hkv, S, Dv]`
    are a chunk of `S` new tokens per sequence; `key_cache: [pages, Hkv, P,
    D]` and `value_cache: [pages, Hkv, P, Dv]` hold pages of `P` tokens;
    `block_table: [B, blocks]` names the page of each block of `P`
    positions of a sequence and `past_lengths: [B]` how many positions of
    it are cached already. Token `i` of sequence `b` is at position
    `t = past_lengths[b] + i`: its key and value are written to page
    `block_table[b, t / P]`, slot `t mod P` (results `new_key_cache`,
    `new_value_cache`; the runtime updates the cache in place), and its
    query attends to positions `0 .. t` of the sequence (`causal`), or to
    the last `window` of them (`sliding_window`). Otherwise as
    `kuai.attention`.

    ```mlir
    %o, %kc, %vc = kuai.paged_attention %q, %k, %v, %key_cache, %value_cache,
        %block_table, %past_lengths {mask_kind = "causal", scale = 0.125 : f32}
        : (tensor<?x8x?x64xf32, #kuai.dims<batch, 8, seq, 64>>, ...)
        -> (tensor<?x8x?x64xf32, #kuai.dims<batch, 8, seq, 64>>, ...)
    ```
  }];
  let arguments = (ins AnyTensor:$query, AnyTensor:$key, AnyTensor:$value,
                   AnyTensor:$key_cache, AnyTensor:$value_cache,
                   AnyTensor:$block_table, AnyTensor:$past_lengths,
                   F32Attr:$scale,
                   DefaultValuedStrAttr<StrAttr, "causal">:$mask_kind,
                   DefaultValuedAttr<Kuai_I64Attr, "0">:$window);
  let results = (outs AnyTensor:$output, AnyTensor:$new_key_cache,
                 AnyTensor:$new_value_cache);
}

def Kuai_MoeOp : Kuai_TransformerOp<"moe"> {
  let summary = "Mixture of experts: router, top-k, gated expert MLPs";
  let description = [{
    For each row `x` of `input` (`[tokens, d]`): router probabilities
    `softmax(x · router)` (computed in fp32), the `top_k` largest (ties:
    lower expert first), renormalised to sum to 1 when `normalize`; the
    result is `sum_e p_e * down_e(act(gate_e(x)) * up_e(x))` over the chosen
    experts. `experts` holds `gate_0, up_0, down_0, gate_1, ...`; weights use
    `kuai.linear`'s layouts (`router_transposed`, `experts_transposed`).
  }];
  let arguments = (ins AnyTensor:$input, AnyTensor:$router,
                   Variadic<AnyTensor>:$experts, Kuai_I64Attr:$top_k,
                   BoolAttr:$normalize, StrAttr:$activation,
                   BoolAttr:$router_transposed, BoolAttr:$experts_transposed);
  let results = (outs AnyTensor:$output);
}

#endif
