// RUN: kuai-compile %s --emit=kernels | FileCheck %s
// RUN: kuai-compile %s --emit=kernels --max-batch 1 --max-seq 64 | FileCheck %s --check-prefix=SMALL
// RUN: kuai-compile %s --emit=kernels --target sm_80 | FileCheck %s --check-prefix=SM80
// RUN: kuai-compile %s --emit=kernels --max-batch 1 --max-seq 1152 | FileCheck %s --check-prefix=SPLIT
// RUN: kuai-compile %s --emit=kernels --max-batch 1 --max-seq 768 | FileCheck %s --check-prefix=BELOW
// RUN: kuai-compile %s --emit=kernels --hopper-activation=separate | FileCheck %s --check-prefix=SEP
// RUN: not kuai-compile %s --emit=kernels --hopper-activation=fused 2>&1 | FileCheck %s --check-prefix=BAD
// Pass: lib/Codegen/LowerToKernels.cpp (hopperLinearTile, addSmallRowVariants)

// Tests that an fp16 linear on sm_90 whose 128-row tiles fill the SMs at the
// bound row count (16 x 1024) uses the Hopper kernel, reading x and W
// through tensor maps (128 x 64 and 128 x 64 boxes), the persistent
// ping-pong one (a block on each of the 132 SMs): its 512 tiles of 128x128
// cost 4 x 128 + 32, less than 2 waves of 128x256 tiles at 256 + 32 each.
// Up to 64 rows at run time (decode steps) other variants run instead
// (addSmallRowVariants), each guarded by `when`: GEMV for 1, 2..8, 9..16
// and 17..32 rows, split-K over 64-row mma.sync tiles for 33..64.
// CHECK: [when -batch*batch*seq*seq + 2*batch*seq > 0] templates.kuai_linear_gemv1_f16 <<<512/8, 1/1, 1/1 | 256x1x1>>> (b0 b[[W:[0-9]+]] null null b[[Y:[0-9]+]] i64:batch*seq i64:512 i64:256 i32:0)  // linear (GEMV, rows 1)
// CHECK: [when -batch*batch*seq*seq + 10*batch*seq - 9 > 0] templates.kuai_linear_gemv8_f16 <<<512/16, 1/1, 1/1 | 256x1x1>>> (b0 b[[W]] null null b[[Y]] i64:batch*seq i64:512 i64:256 i32:0)  // linear (GEMV, rows 2-8)
// CHECK: [when -batch*batch*seq*seq + 25*batch*seq - 136 > 0] templates.kuai_linear_gemv16_f16 <<<512/16, 1/1, 1/1 | 256x1x1>>> (b0 b[[W]] null null b[[Y]] i64:batch*seq i64:512 i64:256 i32:0)  // linear (GEMV, rows 9-16)
// CHECK: [when -batch*batch*seq*seq + 49*batch*seq - 528 > 0] templates.kuai_linear_gemv32_f16 <<<512/16, 1/1, 1/1 | 256x1x1>>> (b0 b[[W]] null null b[[Y]] i64:batch*seq i64:512 i64:256 i32:0)  // linear (GEMV, rows 17-32)
// CHECK: [when -batch*batch*seq*seq + 97*batch*seq - 2080 > 0] templates.kuai_linear_tc64_f16_out_f32 <<<512/64, batch*seq/64, 2/1 | 128x1x1>>> (b0 b[[W]] null null b[[WS:[0-9]+]] i64:batch*seq i64:512 i64:256 i32:0)  // linear (split-K 2, rows <= 64)
// CHECK: [when -batch*batch*seq*seq + 97*batch*seq - 2080 > 0] templates.kuai_linear_tc_reduce_f16 <<<512*batch*seq/256, 1/1, 1/1 | 256x1x1>>> (b[[WS]] null null null b[[Y]] i64:batch*seq i64:512 i64:2 i32:0)  // linear (split-K reduce, rows <= 64)
// CHECK: [when batch*seq - 64 > 0] templates.kuai_linear_wgpp128_f16 <<<132/1, 1/1, 1/1 | 384x1x1>>> (tmap:b0,batch*seq,256,128 tmap:b[[W]],512,256,128 null null b[[Y]] i64:batch*seq i64:512 i64:256 i32:0)  // linear
// Tests that a long K (2048) takes the cooperative 128x256 tiles instead
// (2 waves): the ping-pong one is picked only up to K = 1024.
// CHECK: [when batch*seq - 64 > 0] templates.kuai_linear_wg256_f16 <<<512/256, batch*seq/128, 1/1 | 384x1x1>>> (tmap:b{{[0-9]+}},batch*seq,2048,128 tmap:b{{[0-9]+}},512,2048,256
// Tests that a linear whose GELU the epilogue folds in takes the
// cooperative 128x256 tiles (the ping-pong one has no activation).
// CHECK: [when batch*seq - 64 > 0] templates.kuai_linear_wg256_f16 <<<512/256, batch*seq/128, 1/1 | 384x1x1>>> (tmap:b{{[0-9]+}},batch*seq,256,128 tmap:b{{[0-9]+}},512,256,256 null null b{{[0-9]+}} i64:batch*seq i64:512 i64:256 i32:1)  // linear+gelu
// Tests that with --hopper-activation=separate that linear (x3, b2) takes
// the ping-pong tile without its GELU, which runs as its own launch.
// SEP: templates.kuai_linear_wgpp128_f16 <<<132/1, 1/1, 1/1 | 384x1x1>>> (tmap:b2,batch*seq,256,128 tmap:b{{[0-9]+}},512,256,128 null null b[[H:[0-9]+]] i64:batch*seq i64:512 i64:256 i32:0)  // linear
// SEP: generated.kuai_ew{{[0-9]+}} <<<512*batch*seq/256, 1/1, 1/1 | 256x1x1>>> (b{{[0-9]+}} b[[H]] {{.*}}// gelu
// BAD: --hopper-activation expects fold or separate, got 'fused'
// Tests that 64 rows (one row tile, 4 column tiles) stay on the split-K
// mma.sync path, without variants.
// SMALL-NOT: kuai_linear_wg
// SMALL-NOT: when
// SMALL: templates.kuai_linear_tc64_f16_out_f32 {{.*}}// linear (split-K
// Tests that 1152 rows (9 row tiles: 36 tiles of 128x128, under half of the
// 132 SMs) split K over clusters of 2 blocks (72 blocks, 2 of the 4 k-tiles
// each), the grid's z being the cluster; the decode variants stay.
// SPLIT: templates.kuai_linear_gemv1_f16
// SPLIT: [when batch*seq - 64 > 0] templates.kuai_linear_wg128s2_f16 <<<512/128, batch*seq/128, 2/1 | 384x1x1>>> (tmap:b0,batch*seq,256,128 tmap:b{{[0-9]+}},512,256,128 null null b{{[0-9]+}} i64:batch*seq i64:512 i64:256 i32:0)  // linear (K over a cluster of 2)
// Tests that 768 rows (24 tiles: no split of at most 2 k-tiles a block
// reaches half a wave) take the largest split that keeps 2 k-tiles a block,
// 2 (48 blocks, from 24 up).
// BELOW: [when batch*seq - 64 > 0] templates.kuai_linear_wg128s2_f16 <<<512/128, batch*seq/128, 2/1 | 384x1x1>>> {{.*}}// linear (K over a cluster of 2)
// Tests that other targets use the mma.sync linear.
// SM80-NOT: kuai_linear_wg
// SM80: templates.kuai_linear_tc128_f16 <<<512/128, batch*seq/128
func.func @main(%x: tensor<?x?x256xf16, #kuai.dims<batch, seq, 256>> {kuai.name = "x"}, %x2: tensor<?x?x2048xf16, #kuai.dims<batch, seq, 2048>> {kuai.name = "x2"}, %x3: tensor<?x?x256xf16, #kuai.dims<batch, seq, 256>> {kuai.name = "x3"}) -> (tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>> {kuai.name = "y"}, tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>> {kuai.name = "y2"}, tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>> {kuai.name = "y3"}) {
  %none = kuai.none
  %w = kuai.constant dense<0.01> : tensor<512x256xf16>
  %y = kuai.linear %x, %w, %none {transpose_weight = true} : (tensor<?x?x256xf16, #kuai.dims<batch, seq, 256>>, tensor<512x256xf16>, none) -> tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>
  %w2 = kuai.constant dense<0.01> : tensor<512x2048xf16>
  %y2 = kuai.linear %x2, %w2, %none {transpose_weight = true} : (tensor<?x?x2048xf16, #kuai.dims<batch, seq, 2048>>, tensor<512x2048xf16>, none) -> tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>
  %w3 = kuai.constant dense<0.02> : tensor<512x256xf16>
  %h3 = kuai.linear %x3, %w3, %none {transpose_weight = true} : (tensor<?x?x256xf16, #kuai.dims<batch, seq, 256>>, tensor<512x256xf16>, none) -> tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>
  %y3 = kuai.gelu %h3 : (tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>) -> tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>
  return %y, %y2, %y3 : tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>, tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>, tensor<?x?x512xf16, #kuai.dims<batch, seq, 512>>
}
