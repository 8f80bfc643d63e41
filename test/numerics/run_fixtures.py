#!/usr/bin/env python3
"""Runs every fixture of ../shared/fixtures through import, kuai-graph-cleanup
and the reference executor, both test data sets from one import, and checks
the outputs against the references (relative L2 <= 1e-5 for fp32 models,
<= 1e-3 for models with fp16 weights: kuai-run's defaults).

Exit status 77 (skipped) when the fixtures are absent, 1 when one fails.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

from reporting import Report


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--report")
    args = p.parse_args()
    report = Report(args.report)
    say = report.say

    if not os.path.isdir(args.fixtures):
        say(f"SKIPPED: fixtures not found at {args.fixtures} (the shared "
            "project folder is not beside this clone)")
        return report.finish(77)
    models = sorted(glob.glob(os.path.join(args.fixtures, "**", "model.onnx"),
                              recursive=True))
    failed = 0
    say(f"{'fixture':14} {'set':>3} {'output':8} {'rel_l2':>10} {'max_abs':>10} "
        f"{'rtol':>6}  result")
    for model in models:
        d = os.path.dirname(model)
        name = os.path.relpath(d, args.fixtures)
        sets = sorted(glob.glob(os.path.join(d, "test_data_set_*")))
        cmd = [os.path.join(args.bin, "kuai-run"), model]
        for s in sets:
            cmd += ["--expect", s]
        r = subprocess.run(cmd, capture_output=True, text=True)
        current = None
        seen = 0
        for line in r.stdout.splitlines():
            m = re.match(r"== .*test_data_set_(\d+)", line)
            if m:
                current = m.group(1)
            m = re.match(r"compare '([^']+)': (ok|FAIL) rel_l2 (\S+) max_abs (\S+) "
                         r"\(rtol (\S+)\)", line)
            if m:
                seen += 1
                say(f"{name:14} {current:>3} {m.group(1):8} {m.group(3):>10} "
                    f"{m.group(4):>10} {m.group(5):>6}  {m.group(2)}")
        if r.returncode != 0 or seen == 0:
            failed += 1
            say(f"{name}: FAILED (exit {r.returncode})")
            say(r.stdout[-2000:] + r.stderr[-2000:])
    say(f"\nfixtures: {len(models) - failed} of {len(models)} models pass "
        f"(every test data set, one import each)")
    return report.finish(1 if failed else 0)



if __name__ == "__main__":
    sys.exit(main())
