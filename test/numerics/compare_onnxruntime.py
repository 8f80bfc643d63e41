#!/usr/bin/env python3
"""A second opinion: runs every fixture with ONNX Runtime (CPU) and with
kuai-run on the same inputs and compares the two (relative L2 <= 1e-5, or
1e-3 for fp16 models).

Exit status 77 (skipped) when onnxruntime or the fixtures are absent.
"""
import argparse
import glob
import os
import subprocess
import sys

from reporting import Report
import tempfile


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--report")
    args = p.parse_args()
    report = Report(args.report)
    say = report.say

    try:
        import numpy as np
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper
    except ImportError as e:
        say(f"SKIPPED: onnxruntime comparison needs numpy, onnx and onnxruntime ({e})")
        return report.finish(77)
    if not os.path.isdir(args.fixtures):
        say(f"SKIPPED: fixtures not found at {args.fixtures}")
        return report.finish(77)

    failed = 0
    say(f"onnxruntime {ort.__version__} (CPU) vs kuai reference executor")
    say(f"{'fixture':14} {'set':>3} {'rel_l2':>10} {'max_abs':>10}  result")
    for model in sorted(glob.glob(os.path.join(args.fixtures, "**", "model.onnx"),
                                  recursive=True)):
        d = os.path.dirname(model)
        name = os.path.relpath(d, args.fixtures)
        half = any(t.data_type in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)
                   for t in onnx.load(model, load_external_data=False).graph.initializer)
        tol = 1e-3 if half else 1e-5
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        for s in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
            inputs = sorted(glob.glob(os.path.join(s, "input_*.pb")))
            feeds = {}
            for path, info in zip(inputs, session.get_inputs()):
                t = onnx.TensorProto()
                with open(path, "rb") as f:
                    t.ParseFromString(f.read())
                feeds[info.name] = numpy_helper.to_array(t)
            ort_out = session.run(None, feeds)[0].astype(np.float64)
            with tempfile.TemporaryDirectory() as tmp:
                r = subprocess.run([os.path.join(args.bin, "kuai-run"), model,
                                    *[a for i in inputs for a in ("--input", i)],
                                    "--save-outputs", tmp],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    failed += 1
                    say(f"{name:14} {s[-1]:>3} kuai-run failed: {r.stderr.strip()}")
                    continue
                out_name = session.get_outputs()[0].name.replace("/", "_")
                kuai_out = np.load(os.path.join(tmp, out_name + ".npy")).astype(np.float64)
            rel = np.linalg.norm(kuai_out - ort_out) / np.linalg.norm(ort_out)
            mx = np.abs(kuai_out - ort_out).max()
            ok = kuai_out.shape == ort_out.shape and rel <= tol
            failed += not ok
            say(f"{name:14} {s[-1]:>3} {rel:10.3e} {mx:10.3e}  "
                f"{'ok' if ok else 'FAIL'} (tol {tol:g})")
    say(f"\nonnxruntime agreement: {'all fixtures agree' if not failed else f'{failed} disagree'}")
    return report.finish(1 if failed else 0)



if __name__ == "__main__":
    sys.exit(main())
