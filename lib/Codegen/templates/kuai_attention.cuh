// The attention contract shared by the attention templates: mask kinds and
// mask element types (codes the compiler passes), the argument pack, and
// reading one mask value.
#ifndef KUAI_ATTENTION_CUH
#define KUAI_ATTENTION_CUH

#include "kuai_types.cuh"

enum MaskKind {
  MASK_NONE = 0,
  MASK_CAUSAL = 1,
  MASK_SLIDING = 2,
  MASK_PADDING = 3,
  MASK_CAUSAL_PADDING = 4,
  MASK_BIAS = 5
};
enum MaskType {
  MT_I64 = 0,
  MT_I32 = 1,
  MT_U8 = 2,
  MT_F32 = 3,
  MT_F16 = 4,
  MT_BF16 = 5
};

__device__ __forceinline__ float mask_value(const void *mask, i64 type,
                                            i64 at) {
  switch (type) {
  case MT_I64:
    return float(((const i64 *)mask)[at]);
  case MT_I32:
    return float(((const int *)mask)[at]);
  case MT_U8:
    return float(((const unsigned char *)mask)[at]);
  case MT_F32:
    return ((const float *)mask)[at];
  case MT_F16:
    return to_f32(((const kuai_f16 *)mask)[at]);
  default:
    return to_f32(((const kuai_bf16 *)mask)[at]);
  }
}

// Passed by value as 26 consecutive 64-bit integers (the plan's `pack`
// argument), in this order.
struct AttnShape {
  i64 batch, q_heads, kv_heads, q_len, kv_len, d, dv;
  i64 q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  i64 mask_stride[4];
  i64 window, mask_kind, mask_type;
};

#endif
