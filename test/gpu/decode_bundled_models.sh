#!/usr/bin/env bash
# On the GPU machine: the decode path (kuai-kv-cache, split-KV attention,
# GPU argmax) of the causal LMs bundled in test/models, each compiled in its
# own dtype (fp32) and in bf16. Every greedy step's cached logits are
# compared with the reference executor recomputing the whole sequence
# (kuai-run --compare-full-recompute: relative L2 <= 1e-3 for fp32), and the
# bf16 build must generate the fp32 build's ids. An 80-token prompt and 40
# new tokens span 8 pages of 16 positions: 4 splits per decode step.
# Sampling (fp32 builds): kuai-run on the GPU (kuai_sample) and on the
# reference executor draw from the same definition (kuai/sampling.h), so
# with the same seed their ids must agree (at least 20 of 40 leading ids:
# float rounding may move a pick that sits on a boundary). With
# GENERATE_CHECK (test/gpu/generate_check.cpp, built by run_gpu_tests.sh),
# the runtime's kuai_model_generate must give kuai-run's ids, greedy and
# sampled.
#   test/gpu/decode_bundled_models.sh BUNDLE_DIR [OUT_FILE [GENERATE_CHECK]]
set -uo pipefail
bundle="$1"
out="${2:-/dev/stdout}"
generate="${3:-}"
sampling=(--temperature 0.8 --top-k 20 --top-p 0.9 --seed 5)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prompt="$(seq -s, 3 82)"
# How many leading ids two "generated ids: ..." lines share.
leading() {
  local same=0 a f
  read -ra a <<< "${1#generated ids:}"
  read -ra f <<< "${2#generated ids:}"
  while [[ $same -lt ${#a[@]} && "${a[$same]}" == "${f[$same]:-}" ]]; do
    same=$((same + 1))
  done
  echo "$same"
}
status=0
for dir in test/models/llama-sdpa test/models/families/{mistral,qwen2,phi3,gemma,gpt-neox}-sdpa; do
  name="$(basename "$dir")"
  for dtype in fp32 bf16; do
    art="$work/$name-$dtype.kuai"
    if ! "$bundle/bin/kuai-compile" "$dir/model.onnx" --kv-cache --dtype="$dtype" \
        --max-batch 2 --max-seq 256 --emit=artifact -o "$art" 2> "$work/log"; then
      echo "$name $dtype: kuai-compile FAILED: $(tail -3 "$work/log")" >> "$out"
      status=1
      continue
    fi
    args=("$art" --prompt-ids "$prompt" --max-new-tokens 40 --print-ids)
    if [[ $dtype == fp32 ]]; then
      args+=(--compare-full-recompute --reference-model "$dir/model.onnx")
    fi
    if ! "$bundle/bin/kuai-run" "${args[@]}" > "$work/run" 2>&1; then
      echo "$name $dtype: FAIL: $(tail -3 "$work/run")" >> "$out"
      status=1
      continue
    fi
    ids="$(grep '^generated ids:' "$work/run")"
    if [[ $dtype == fp32 ]]; then
      fp32_ids="$ids"
      echo "$name fp32: $(grep -o 'largest relative L2.*' "$work/run")" >> "$out"
      gpu_sampled="$("$bundle/bin/kuai-run" "$art" --prompt-ids "$prompt" \
        --max-new-tokens 40 --print-ids "${sampling[@]}" 2>&1 | grep '^generated ids:')"
      ref_sampled="$("$bundle/bin/kuai-run" "$dir/model.onnx" --prompt-ids "$prompt" \
        --max-new-tokens 40 --print-ids "${sampling[@]}" 2>&1 | grep '^generated ids:')"
      agree="$(leading "$gpu_sampled" "$ref_sampled")"
      if [[ -n "$gpu_sampled" && $agree -ge 20 ]]; then
        echo "$name fp32 sampled: the first $agree of 40 ids equal the reference executor's" >> "$out"
      else
        echo "$name fp32 sampled: FAIL: $agree of 40 leading ids equal ($gpu_sampled vs $ref_sampled)" >> "$out"
        status=1
      fi
      if [[ -n "$generate" ]]; then
        g="$("$generate" "$art" "$prompt" 40 | grep '^generated ids:')"
        gs="$("$generate" "$art" "$prompt" 40 0.8 20 0.9 5 | grep '^generated ids:')"
        if [[ "$g" == "$ids" && "$gs" == "$gpu_sampled" ]]; then
          echo "$name fp32: kuai_model_generate gives kuai-run's ids, greedy and sampled" >> "$out"
        else
          echo "$name fp32: kuai_model_generate FAIL ($g | $gs)" >> "$out"
          status=1
        fi
      fi
    elif [[ "$ids" == "$fp32_ids" ]]; then
      echo "$name bf16: the 40 ids equal the fp32 build's" >> "$out"
    else
      echo "$name bf16: the first $(leading "$ids" "$fp32_ids") of 40 ids equal the fp32 build's" >> "$out"
    fi
  done
done
[[ $status == 0 ]] && echo "decode of bundled models: PASS" >> "$out" ||
  echo "decode of bundled models: FAIL" >> "$out"
exit $status
