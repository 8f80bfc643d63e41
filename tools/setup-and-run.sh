#!/usr/bin/env bash
# The main job: installs the dependencies, builds kuai, imports the model
# that ships in the repository (test/models/llama-sdpa, a two-layer Llama
# exported by torch.onnx dynamo) and runs it on the CPU reference executor,
# printing its outputs and their agreement with PyTorch's reference outputs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

MODEL="$KUAI_ROOT/test/models/llama-sdpa"
step "Importing $MODEL/model.onnx (kuai-compile --emit=graph); the function signature:"
"$BUILD_DIR/bin/kuai-compile" "$MODEL/model.onnx" --emit=graph | grep -m1 'func.func'

step "Running it on the reference executor with both test data sets (kuai-run --expect)"
"$BUILD_DIR/bin/kuai-run" "$MODEL/model.onnx" \
  --expect "$MODEL/test_data_set_0" --expect "$MODEL/test_data_set_1"
