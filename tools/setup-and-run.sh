#!/usr/bin/env bash
# The main job: installs the dependencies, builds kuai, imports the model
# that ships in the repository (test/models/llama-sdpa, a two-layer Llama
# exported by torch.onnx dynamo), raises it to transformer ops and runs it on
# the CPU reference executor, printing its outputs and their agreement with
# PyTorch's reference outputs, then generates a continuation of a prompt
# through the KV cache: on the GPU when there is one (kuai-compile
# --kv-cache, kuai-run model.kuai), otherwise on the reference executor.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

MODEL="$KUAI_ROOT/test/models/llama-sdpa"
GRAPH="$BUILD_DIR/llama-sdpa.graph.mlir"
step "Importing $MODEL/model.onnx (kuai-compile --emit=graph -o $GRAPH); its signature:"
"$BUILD_DIR/bin/kuai-compile" "$MODEL/model.onnx" --emit=graph -o "$GRAPH"
grep -m1 'func.func' "$GRAPH"

step "Raising it to transformer ops (kuai-compile --emit=transformer --stats --require-raised)"
"$BUILD_DIR/bin/kuai-compile" "$MODEL/model.onnx" --emit=transformer --stats \
  --require-raised -o "$BUILD_DIR/llama-sdpa.transformer.mlir"

step "Running the raised model on the reference executor with both test data sets (kuai-run --raise --expect)"
"$BUILD_DIR/bin/kuai-run" "$MODEL/model.onnx" --raise \
  --expect "$MODEL/test_data_set_0" --expect "$MODEL/test_data_set_1"

# The bundled model has random weights and no tokenizer: prompt and
# continuation are token ids.
if "$BUILD_DIR/bin/kuai-run" --help >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q libcuda.so.1; then
  ARTIFACT="$BUILD_DIR/llama-sdpa.kuai"
  step "Compiling it for the GPU with a KV cache (kuai-compile --kv-cache --emit=artifact -o $ARTIFACT)"
  "$BUILD_DIR/bin/kuai-compile" "$MODEL/model.onnx" --kv-cache --emit=artifact -o "$ARTIFACT"
  step "Generating 32 tokens on the GPU through the paged KV cache (kuai-run model.kuai --prompt-ids)"
  "$BUILD_DIR/bin/kuai-run" "$ARTIFACT" --prompt-ids 1,2,3,4,5 --max-new-tokens 32
else
  step "No CUDA driver here: generating 32 tokens on the reference executor through the KV cache (kuai-run model.onnx --prompt-ids)"
  "$BUILD_DIR/bin/kuai-run" "$MODEL/model.onnx" --prompt-ids 1,2,3,4,5 --max-new-tokens 32
fi
