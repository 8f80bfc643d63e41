#!/usr/bin/env bash
# CI without a GPU: every fixture model compiles to PTX (kuai-compile
# --emit=ptx) and both of its modules (generated kernels, templates)
# assemble with ptxas for the target their `.target` line names (sm_90, or
# sm_90a for the Hopper linear). tiny-llama also in fp16 and bf16 and with
# --kv-cache (fp16, bf16: the paged attention and GEMV decode kernels),
# every model of test/models also in fp16. The past/present export compiles
# with --kv-cache only: in its own form the rotary positions are a float
# Range from the past's length, which has no GPU plan.
#   test/gpu/assemble_fixture_ptx.sh BIN_DIR FIXTURES_DIR MODELS_DIR
# Exit 77 (skipped) without ptxas.
set -uo pipefail
bin="$1" fixtures="$2" models="$3"
command -v ptxas >/dev/null || { echo "SKIPPED: ptxas not found (CUDA toolkit)"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
failed=0 count=0
check() { # model dtype [more kuai-compile flags]
  local model="$1" dtype="$2" name="${1%/model.onnx}"
  shift 2
  if ! "$bin/kuai-compile" "$model" --emit=ptx --dtype="$dtype" "$@" -o "$tmp/all.ptx" 2> "$tmp/err"; then
    echo "FAIL $name --dtype=$dtype $*: $(tail -1 "$tmp/err")"; failed=1; return
  fi
  # The two modules are separated by "// module <name>" lines.
  awk -v dir="$tmp" '/^\/\/ module /{f=dir "/" $3 ".ptx"; next} {print > f}' "$tmp/all.ptx"
  for m in generated templates; do
    [[ -s "$tmp/$m.ptx" ]] || continue
    # Identical template modules (same dtypes) are assembled once.
    sum="$(md5sum < "$tmp/$m.ptx" | cut -d' ' -f1)"
    [[ -e "$tmp/seen-$sum" ]] && continue
    touch "$tmp/seen-$sum"
    arch="$(sed -n 's/^\.target \(sm_[0-9a-z]*\).*/\1/p' "$tmp/$m.ptx" | head -1)"
    if ! ptxas -arch="$arch" "$tmp/$m.ptx" -o "$tmp/$m.cubin" 2> "$tmp/err"; then
      echo "FAIL $name --dtype=$dtype $* module $m: $(head -3 "$tmp/err")"; failed=1; return
    fi
  done
  rm -f "$tmp"/*.ptx
  count=$((count + 1))
  echo "ok   ${name#$fixtures/} --dtype=$dtype $*"
}
shopt -s nullglob
for model in "$fixtures"/*/model.onnx "$fixtures"/*/*/model.onnx "$models"/*/model.onnx "$models"/*/*/model.onnx; do
  case "$model" in
    */llama-past-like/*) check "$model" auto --kv-cache; check "$model" bf16 --kv-cache
                         continue ;;
  esac
  check "$model" auto
  case "$model" in
    */tiny-llama/*) check "$model" fp16; check "$model" bf16
                    check "$model" fp16 --kv-cache; check "$model" bf16 --kv-cache ;;
    "$models"/*) check "$model" fp16 ;;
  esac
done
[[ $count -gt 0 ]] || { echo "SKIPPED: no models found"; exit 77; }
echo "$count compilations assembled with ptxas -arch=sm_90 / sm_90a$([[ $failed -ne 0 ]] && echo ', with failures')"
exit $failed
