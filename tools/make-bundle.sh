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
# libLLVM links Z3 (the static analyzer's solver) and, through libxml2,
# ICU's 31 MB data library; kuai never calls either, so the bundle carries
# stand-ins: Z3 functions that abort with a message if ever called (libLLVM
# binds them lazily) and an empty ICU data symbol. 14 MB less to copy.
lib="$stage/kuai-bundle/lib"
if [[ -e "$lib/libz3.so.4" ]]; then
  nm -D --undefined-only "$lib/libLLVM.so."* | awk '$2 ~ /^Z3_/ {print $2}' |
    sort -u | awk '{printf "void %s(void) { kuai_no_z3(\"%s\"); }\n", $1, $1}' \
      > "$stage/z3.c"
  { echo '#include <stdio.h>'; echo '#include <stdlib.h>'
    echo 'static void kuai_no_z3(const char *f) { fprintf(stderr, "kuai bundle: %s: Z3 is not included\n", f); abort(); }'
    cat "$stage/z3.c"; } > "$stage/z3-stub.c"
  cc -shared -fPIC -O2 -Wl,-soname,libz3.so.4 -o "$lib/libz3.so.4" "$stage/z3-stub.c"
fi
for data in "$lib"/libicudata.so.*; do
  [[ -e "$data" ]] || continue
  version="${data##*.so.}"
  echo "const char icudt${version}_dat[64] = {0};" > "$stage/icudata.c"
  cc -shared -fPIC -Wl,-soname,"libicudata.so.$version" -o "$data" "$stage/icudata.c"
done
tar -C "$stage" -cJf "$out" kuai-bundle
echo "wrote $out ($(du -h "$out" | cut -f1))"
