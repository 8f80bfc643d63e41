#!/usr/bin/env bash
# Shared by setup-and-run.sh and setup-and-test.sh: installs what kuai needs
# on Debian 12 (only what is missing, so repeating it is cheap) and builds it.
# KUAI_WITH_TEST_DEPS=1 also installs the Python packages the tests use.
set -euo pipefail

KUAI_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${KUAI_BUILD_DIR:-$KUAI_ROOT/build}"

step() { printf '\n==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build ccache python3 python3-pip
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libzstd-dev libedit-dev libcurl4-openssl-dev zlib1g-dev libxml2-dev libffi-dev
  libonnx-dev protobuf-compiler libprotobuf-dev libgtest-dev
)
if [ "${KUAI_WITH_TEST_DEPS:-0}" = 1 ]; then PACKAGES+=(libonnx-testdata); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "Installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  step "Debian packages: all ${#PACKAGES[@]} present"
fi

if [ "${KUAI_WITH_TEST_DEPS:-0}" = 1 ]; then
  if python3 -c 'import onnx, onnxruntime, numpy' 2>/dev/null; then
    step "Python test packages (onnx, onnxruntime, numpy): present"
  else
    step "Installing Python test packages: onnx onnxruntime numpy"
    python3 -m pip install --quiet onnx onnxruntime numpy 2>/dev/null ||
      python3 -m pip install --quiet --break-system-packages onnx onnxruntime numpy
  fi
fi

step "Configuring and building kuai in $BUILD_DIR"
cmake -S "$KUAI_ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
start=$(date +%s)
cmake --build "$BUILD_DIR"
echo "build finished in $(( $(date +%s) - start )) s"
