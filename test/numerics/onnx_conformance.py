#!/usr/bin/env python3
"""Runs the ONNX node conformance tests through kuai-run.

Every test in the ONNX node test directory whose op types are all claimed by
the importer (`kuai-compile --list-supported-ops`) is run on the reference
executor and compared with its expected outputs. Tests listed in the
exclusions file are skipped, each with its reason. Prints per-op counts and
exits non-zero when a claimed, non-excluded test fails.
"""
import argparse
import collections
import concurrent.futures
import os
import subprocess
import sys

import onnx


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="directory of kuai-run and kuai-compile")
    p.add_argument("--tests", default="/usr/share/libonnx-testdata/data/node")
    p.add_argument("--exclusions", required=True)
    p.add_argument("--rtol", default="1e-3")
    p.add_argument("--atol", default="1e-6")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--report", help="also write the summary to this file")
    args = p.parse_args()

    if not os.path.isdir(args.tests):
        message = (f"SKIPPED: ONNX node tests not found at {args.tests} "
                   "(install libonnx-testdata)")
        print(message)
        if args.report:
            with open(args.report, "w") as f:
                f.write(message + "\n")
        return 77

    claimed = set(subprocess.run(
        [os.path.join(args.bin, "kuai-compile"), "--list-supported-ops"],
        check=True, capture_output=True, text=True).stdout.split())
    exclusions = {}
    with open(args.exclusions) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, reason = line.partition("#")
            exclusions[name.strip()] = reason.strip()

    tests = sorted(d for d in os.listdir(args.tests)
                   if os.path.isfile(os.path.join(args.tests, d, "model.onnx")))
    per_op = collections.defaultdict(collections.Counter)
    runs = []
    for name in tests:
        model = onnx.load(os.path.join(args.tests, name, "model.onnx"),
                          load_external_data=False)
        ops = sorted({n.op_type for n in model.graph.node})
        if not ops or not all(op in claimed for op in ops):
            for op in ops:
                per_op[op]["unclaimed"] += 1
            continue
        if name in exclusions:
            for op in ops:
                per_op[op]["excluded"] += 1
            continue
        runs.append((name, ops))

    def run(item):
        name, _ = item
        d = os.path.join(args.tests, name)
        r = subprocess.run(
            [os.path.join(args.bin, "kuai-run"), os.path.join(d, "model.onnx"),
             "--expect", os.path.join(d, "test_data_set_0"),
             "--rtol", args.rtol, "--atol", args.atol],
            capture_output=True, text=True, timeout=300)
        return r.returncode, r.stdout + r.stderr

    failed = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for (name, ops), (code, out) in zip(runs, pool.map(run, runs)):
            ok = code == 0
            for op in ops:
                per_op[op]["passed" if ok else "failed"] += 1
            if not ok:
                failed.append(name)
                print(f"FAIL {name}")
                lines = out.strip().splitlines()
                for line in lines[-4:]:
                    print(f"     {line}")
            elif args.verbose:
                print(f"ok   {name}")

    report = ["per-op results (a test counts for every op it contains):"]
    report.append(f"  {'op':24} {'passed':>6} {'failed':>6} {'excluded':>8} {'unclaimed':>9}")
    for op in sorted(per_op):
        c = per_op[op]
        report.append(f"  {op:24} {c['passed']:6} {c['failed']:6} {c['excluded']:8} "
                      f"{c['unclaimed']:9}")
    passed = len(runs) - len(failed)
    unclaimed = len(tests) - len(runs) - sum(1 for t in tests if t in exclusions)
    report.append(f"\nONNX node conformance: {passed} of {len(tests)} tests pass; "
                  f"{len(failed)} claimed tests fail; {len(exclusions)} excluded "
                  f"(see {os.path.basename(args.exclusions)}); {unclaimed} use "
                  "ops kuai does not claim")
    print("\n" + "\n".join(report))
    if args.report:
        with open(args.report, "w") as f:
            f.write("\n".join(report) + "\n")
    stale = [t for t in exclusions if t not in tests]
    if stale:
        print(f"note: exclusions that name no test: {', '.join(stale)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
