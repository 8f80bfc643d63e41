#!/usr/bin/env bash
# The main job: installs the dependencies, builds kuai, imports the model
# that ships in the repository (test/models/llama-sdpa, a two-layer Llama
# exported by torch.onnx dynamo), raises it to transformer ops and runs it on
# the CPU reference executor, printing its outputs and their agreement with
# PyTorch's reference outputs. (No GPU path yet.)
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
