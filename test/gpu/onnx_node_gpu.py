#!/usr/bin/env python3
"""The ONNX node conformance tests on the GPU, in two steps.

prepare (on the build machine, which has the tests and no GPU): every node
test whose ops the importer claims and that the CPU conformance run does not
exclude is compiled with `kuai-compile --emit=artifact`; the artifact and
test_data_set_0 go to OUT/<test>/, and the outcome of compiling each test
(compiled, no GPU kernel for an op, element type without GPU support,
a data-dependent output shape, or any other error) to OUT/compile.tsv.

run (on the GPU machine): every artifact under OUT runs with
`kuai-run --expect` (the CPU run's tolerances) and a markdown table of the
results, per op, is written. Exit status 1 when a compiled test fails or a
compile failed for another reason than a missing kernel or type.

    python3 test/gpu/onnx_node_gpu.py prepare --bin build/bin --out node-gpu
    python3 test/gpu/onnx_node_gpu.py run --bin kuai-bundle/bin --out node-gpu --report r.md
"""
import argparse
import collections
import concurrent.futures
import os
import shutil
import subprocess
import sys


def exclusions_of(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, reason = line.partition("#")
                out[name.strip()] = reason.strip()
    return out


def classify(stderr):
    if "has no GPU kernel yet" in stderr or "no GPU kernel" in stderr:
        return "no-kernel"
    if ("without GPU support" in stderr or "has no GPU support" in stderr
            or "needs a float result" in stderr):
        return "no-type"
    if "data-dependent shapes" in stderr:
        return "data-dependent"
    return "error"


def prepare(args):
    import onnx
    claimed = set(subprocess.run([os.path.join(args.bin, "kuai-compile"),
                                  "--list-supported-ops"], check=True,
                                 capture_output=True, text=True).stdout.split())
    excluded = exclusions_of(args.exclusions)
    os.makedirs(args.out, exist_ok=True)
    todo = []
    for name in sorted(os.listdir(args.tests)):
        model = os.path.join(args.tests, name, "model.onnx")
        if not os.path.isfile(model) or name in excluded:
            continue
        ops = sorted({n.op_type for n in onnx.load(model, load_external_data=False).graph.node})
        if ops and all(op in claimed for op in ops):
            todo.append((name, ops))

    def one(item):
        name, ops = item
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        r = subprocess.run([os.path.join(args.bin, "kuai-compile"),
                            os.path.join(args.tests, name, "model.onnx"),
                            "--emit=artifact", "-o", os.path.join(d, "model.kuai")],
                           capture_output=True, text=True, timeout=300)
        if r.returncode == 0:
            shutil.copytree(os.path.join(args.tests, name, "test_data_set_0"),
                            os.path.join(d, "test_data_set_0"), dirs_exist_ok=True)
            return name, ops, "compiled", ""
        shutil.rmtree(d, ignore_errors=True)
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return name, ops, classify(r.stderr), last

    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(one, todo))
    with open(os.path.join(args.out, "compile.tsv"), "w") as f:
        for name, ops, outcome, why in results:
            f.write(f"{name}\t{','.join(ops)}\t{outcome}\t{why}\n")
    counts = collections.Counter(r[2] for r in results)
    print(f"{len(results)} claimed node tests: " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for name, _, outcome, why in results:
        if outcome == "error":
            print(f"  compile error: {name}: {why}")
    return 1 if counts["error"] else 0


def run(args):
    rows = []
    with open(os.path.join(args.out, "compile.tsv")) as f:
        for line in f:
            name, ops, outcome, why = line.rstrip("\n").split("\t")
            rows.append([name, ops.split(","), outcome, why])

    def one(row):
        name = row[0]
        d = os.path.join(args.out, name)
        r = subprocess.run([os.path.join(args.bin, "kuai-run"), os.path.join(d, "model.kuai"),
                            "--expect", os.path.join(d, "test_data_set_0"),
                            "--rtol", args.rtol, "--atol", args.atol],
                           capture_output=True, text=True, timeout=300)
        return ("pass" if r.returncode == 0 else "FAIL",
                (r.stdout + r.stderr).strip().splitlines()[-3:])

    compiled = [r for r in rows if r[2] == "compiled"]
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for row, (outcome, tail) in zip(compiled, pool.map(one, compiled)):
            row[2], row[3] = outcome, " | ".join(tail) if outcome == "FAIL" else ""
    per_op = collections.defaultdict(collections.Counter)
    for name, ops, outcome, _ in rows:
        for op in ops:
            per_op[op][outcome] += 1
    totals = collections.Counter(r[2] for r in rows)
    lines = ["# ONNX node tests on the GPU", "",
             f"{len(rows)} node tests whose ops the importer claims (CPU exclusions "
             "left out): " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())), "",
             "| op | pass | FAIL | no GPU kernel | no GPU type | data-dependent shape | compile error |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for op in sorted(per_op):
        c = per_op[op]
        lines.append(f"| {op} | {c['pass']} | {c['FAIL']} | {c['no-kernel']} | "
                     f"{c['no-type']} | {c['data-dependent']} | {c['error']} |")
    failures = [r for r in rows if r[2] in ("FAIL", "error")]
    if failures:
        lines += ["", "Failures:", ""] + [f"* {r[0]}: {r[3]}" for r in failures]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report:
        with open(args.report, "w") as f:
            f.write(text)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=["prepare", "run"])
    p.add_argument("--bin", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--tests", default="/usr/share/libonnx-testdata/data/node")
    p.add_argument("--exclusions", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "numerics",
        "onnx_conformance_exclusions.txt"))
    p.add_argument("--rtol", default="1e-3")
    p.add_argument("--atol", default="1e-6")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    p.add_argument("--report")
    args = p.parse_args()
    return prepare(args) if args.step == "prepare" else run(args)


if __name__ == "__main__":
    sys.exit(main())
