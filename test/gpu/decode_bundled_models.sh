#!/usr/bin/env bash
# On the GPU machine: the decode path (kuai-kv-cache, split-KV attention,
# GPU argmax) of the causal LMs bundled in test/models, each compiled in its
# own dtype (fp32) and in bf16. Every greedy step's cached logits are
# compared with the reference executor recomputing the whole sequence
# (kuai-run --compare-full-recompute: relative L2 <= 1e-3 for fp32), and the
# bf16 build must generate the fp32 build's ids. An 80-token prompt and 40
# new tokens span 8 pages of 16 positions: 4 splits per decode step.
#   test/gpu/decode_bundled_models.sh BUNDLE_DIR [OUT_FILE]
set -uo pipefail
bundle="$1"
out="${2:-/dev/stdout}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prompt="$(seq -s, 3 82)"
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
    elif [[ "$ids" == "$fp32_ids" ]]; then
      echo "$name bf16: the 40 ids equal the fp32 build's" >> "$out"
    else
      same=0
      read -ra a <<< "${ids#generated ids:}"
      read -ra f <<< "${fp32_ids#generated ids:}"
      while [[ $same -lt ${#a[@]} && "${a[$same]}" == "${f[$same]:-}" ]]; do
        same=$((same + 1))
      done
      echo "$name bf16: the first $same of 40 ids equal the fp32 build's" >> "$out"
    fi
  done
done
[[ $status == 0 ]] && echo "decode of bundled models: PASS" >> "$out" ||
  echo "decode of bundled models: FAIL" >> "$out"
exit $status
