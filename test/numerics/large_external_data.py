#!/usr/bin/env python3
"""Imports a model whose weights lie in several external data files, more
than 2 GB in total, one tensor at an offset past 2**31, and checks that

* kuai-compile maps the files instead of copying them: its peak resident
  memory stays far below the size of the weights;
* kuai-run reads the right bytes (rows written at known places).

The files are sparse (holes read as zeros), so the test needs little disk.
Exit status 77 (skipped) when the onnx package is missing.
"""
import argparse
import contextlib
import os
import resource
import subprocess
import sys
import tempfile

ROWS = 75_000_000          # x 4 floats = 1.2 GB per tensor
FAR_OFFSET = 2_300_000_000  # past 2**31


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--report")
    p.add_argument("--workdir", help="keep the generated files here")
    args = p.parse_args()
    try:
        import numpy as np
        import onnx
        from onnx import TensorProto, helper
    except ImportError as e:
        print(f"SKIPPED: needs numpy and onnx ({e})")
        return 77

    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
    with (contextlib.nullcontext(args.workdir) if args.workdir
          else tempfile.TemporaryDirectory()) as tmp:
        def external(name, shape, fname, offset, rows):
            t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
            t.data_location = TensorProto.EXTERNAL
            length = int(np.prod(shape)) * 4
            for k, v in [("location", fname), ("offset", str(offset)),
                         ("length", str(length))]:
                e = t.external_data.add()
                e.key, e.value = k, v
            path = os.path.join(tmp, fname)
            with open(path, "ab") as f:
                f.truncate(max(os.path.getsize(path), offset + length))
            with open(path, "r+b") as f:  # a few known rows
                for r, values in rows.items():
                    f.seek(offset + r * shape[1] * 4)
                    f.write(np.asarray(values, np.float32).tobytes())
            return t

        inits = [external("a", [ROWS, 4], "a.bin", 0, {1: [1, 2, 3, 4]}),
                 external("b", [ROWS, 4], "b.bin", 0, {ROWS - 1: [5, 6, 7, 8]}),
                 external("c", [16, 4], "c.bin", FAR_OFFSET, {2: [9, 10, 11, 12]})]
        nodes = [helper.make_node("Gather", ["a", "ia"], ["ga"], name="ga"),
                 helper.make_node("Gather", ["b", "ib"], ["gb"], name="gb"),
                 helper.make_node("Gather", ["c", "ic"], ["gc"], name="gc"),
                 helper.make_node("Concat", ["ga", "gb", "gc"], ["y"], axis=0, name="cat")]
        i64 = TensorProto.INT64
        graph = helper.make_graph(
            nodes, "big", [helper.make_tensor_value_info(n, i64, [1]) for n in ("ia", "ib", "ic")],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])], inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model_path = os.path.join(tmp, "big.onnx")
        onnx.save(model, model_path)
        for name, v in [("ia", 1), ("ib", ROWS - 1), ("ic", 2)]:
            np.save(os.path.join(tmp, name + ".npy"), np.array([v], np.int64))
        total = sum(int(np.prod(t.dims)) * 4 for t in inits)

        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        # stdout: weights are elided when printing to the terminal or a pipe.
        r = subprocess.run([os.path.join(args.bin, "kuai-compile"), model_path,
                            "--emit=graph"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        lines = [f"external data: 3 files, {total / 1e9:.2f} GB referenced, "
                 f"one tensor at offset {FAR_OFFSET}"]
        if r.returncode != 0:
            print(r.stderr)
            return 1
        lines.append(f"kuai-compile --emit=graph peak RSS: {peak_kib / 1024:.0f} MiB "
                     f"(limit: 10% of the weights, {total / 10 / 2**20:.0f} MiB)")
        ok = peak_kib * 1024 < total / 10 and peak_kib > before

        r = subprocess.run([os.path.join(args.bin, "kuai-run"), model_path,
                            *[a for n in ("ia", "ib", "ic")
                              for a in ("--input", os.path.join(tmp, n + ".npy"))],
                            "--print-values", "12"], capture_output=True, text=True)
        expected = "output 'y' [3, 4] f32: 1 2 3 4 5 6 7 8 9 10 11 12"
        got = [l for l in r.stdout.splitlines() if l.startswith("output")]
        lines.append(f"kuai-run gathered rows: {got[0] if got else r.stderr.strip()}")
        lines.append("kuai-run peak RSS: "
                     f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB "
                     "(the reference executor decodes weights into fp32 tensors)")
        ok = ok and r.returncode == 0 and got and got[0] == expected
        lines.append("large external data: " + ("ok" if ok else "FAIL"))
        print("\n".join(lines))
        if args.report:
            with open(args.report, "w") as f:
                f.write("\n".join(lines) + "\n")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
