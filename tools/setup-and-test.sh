#!/usr/bin/env bash
# Installs the dependencies (including the test ones), builds kuai and runs
# the whole test suite: lit tests, unit tests, the fixtures of
# ../shared/fixtures, the ONNX node conformance tests and the comparison with
# ONNX Runtime. Prints what each suite checked.
set -euo pipefail
export KUAI_WITH_TEST_DEPS=1
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

step "Running the test suites (ctest)"
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure) || status=$?

for report in fixtures onnx-conformance onnxruntime large-external-data generation; do
  file="$BUILD_DIR/test-reports/$report.txt"
  step "What the $report suite checked"
  if [ -f "$file" ]; then cat "$file"; else echo "(no report: the suite did not run)"; fi
done
step "lit tests (importer, dialect, passes, tools, errors)"
/usr/lib/llvm-22/bin/lit "$BUILD_DIR/test" 2>&1 |
  grep -E '^(UNSUPPORTED|FAIL|  (Passed|Unsupported|Failed|Unresolved))' || true

if [ $status -eq 0 ]; then step "ALL TESTS PASSED"; else step "TESTS FAILED"; fi
exit $status
