#!/usr/bin/env bash
# On the GPU machine: compiles every fixture model under FIXTURES (dirs with
# model.onnx and test_data_set_*) with the kuai bundle, runs each artifact
# with kuai-run --expect on every data set, and appends a results table.
#   test/gpu/run_fixtures_gpu.sh BUNDLE_DIR FIXTURES_DIR RESULTS.md
# tiny-llama is compiled four times (--dtype=auto, fp16, bf16, and fp16 with
# the bounds of its first data set); the others
# with their own dtype; 16-bit builds must also keep top-1 agreement >= 99%
# (--min-top1). Exit status: 0 when every run passes.
set -uo pipefail
bundle="$1" fixtures="$2" results="$3"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
status=0
row() { echo "$*" | tee -a "$results"; }
for model in $(find "$fixtures" -name model.onnx | sort); do
  dir="$(dirname "$model")"; name="${dir#$fixtures/}"
  dtypes="auto"
  # fp16-small: bounds of test set 0 (2 x 64), which selects split-K linears.
  [[ "$name" == *tiny-llama* ]] && dtypes="auto fp16 bf16 fp16-small"
  sets=(); for s in "$dir"/test_data_set_*; do sets+=(--expect "$s"); done
  for dtype in $dtypes; do
    art="$work/${name//\//_}-$dtype.kuai"
    flags=(--dtype="${dtype%-small}")
    [[ "$dtype" == *-small ]] && flags+=(--max-batch 2 --max-seq 64)
    if ! "$bundle/bin/kuai-compile" "$model" --emit=artifact "${flags[@]}" \
         -o "$art" > "$work/compile.log" 2>&1; then
      row "| $name | $dtype | compile FAILED: $(tail -1 "$work/compile.log") | | |"
      status=1; continue
    fi
    top1=()
    [[ "$dtype" == fp16* || "$dtype" == bf16 ]] && top1=(--min-top1 0.99)
    "$bundle/bin/kuai-run" "$art" "${sets[@]}" "${top1[@]}" > "$work/run.log" 2>&1
    rc=$?
    [[ $rc -ne 0 ]] && status=1
    verdict=$([[ $rc -eq 0 ]] && echo PASS || echo "FAIL (exit $rc)")
    errs="$(grep '^compare.*rel_l2' "$work/run.log" | sed -E 's/.*rel_l2 ([^ ]+).*/\1/' | paste -sd, -)"
    top1="$(grep -o ' top1 [0-9.]*%' "$work/run.log" | cut -d' ' -f3 | paste -sd, -)"
    row "| $name | $dtype | $verdict | $errs | ${top1:--} |"
    [[ $rc -ne 0 ]] && sed 's/^/    /' "$work/run.log" | tail -20
  done
done
exit $status
