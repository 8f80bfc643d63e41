#!/usr/bin/env bash
# Packs kuai-compile and kuai-run with the shared libraries they need (not
# glibc, not the CUDA toolkit's NVRTC, which the GPU machine has) into one
# compressed archive, so models exported on the GPU machine (which has no
# MLIR) can be compiled and run there:
#   tools/make-bundle.sh [build-dir] [output.tar.xz]
#   tar xf kuai-bundle.tar.xz && kuai-bundle/bin/kuai-compile model.onnx ...
set -euo pipefail
build="${1:-build}"
out="${2:-$build/kuai-bundle.tar.xz}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/kuai-bundle/bin" "$stage/kuai-bundle/libexec" "$stage/kuai-bundle/lib"
for tool in kuai-compile kuai-run; do
  cp "$build/bin/$tool" "$stage/kuai-bundle/libexec/"
  strip "$stage/kuai-bundle/libexec/$tool"
  cat > "$stage/kuai-bundle/bin/$tool" <<WRAP
#!/usr/bin/env bash
here="\$(cd "\$(dirname "\${BASH_SOURCE[0]}")/.." && pwd)"
cuda="\${CUDA_HOME:-/usr/local/cuda}/lib64"
LD_LIBRARY_PATH="\$here/lib:\$cuda\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "\$here/libexec/$tool" "\$@"
WRAP
  chmod +x "$stage/kuai-bundle/bin/$tool"
  ldd "$build/bin/$tool" | awk '$3 ~ /^\// {print $3}' |
    grep -vE '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libnvrtc[^/]*)\.so' |
    while read -r lib; do cp -nL "$lib" "$stage/kuai-bundle/lib/"; done
done
tar -C "$stage" -cJf "$out" kuai-bundle
echo "wrote $out ($(du -h "$out" | cut -f1))"
