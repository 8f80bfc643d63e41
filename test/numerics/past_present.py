#!/usr/bin/env python3
"""A past/present export through kuai's KV cache, against onnxruntime.

test/models/torchscript/llama-past-like is llama-like (the same weights)
exported with explicit KV tensors (past_key_values.N.key/value inputs,
present.N.key/value outputs). Checks:

* onnxruntime runs the export as its users do: the prompt with an empty
  past, then one token at a time with the presents fed back as the past;
  greedy ids of 16 steps;
* `kuai-run llama-past-like/model.onnx --prompt-ids ... --print-ids
  --compare-full-recompute` (the importer's empty past, kuai-drop-empty-past,
  kuai-kv-cache on the reference executor) gives the same ids, its cached
  logits within 1e-3 of full recomputation at every step;
* the full-sequence twin (llama-like) gives the same ids too;
* `kuai-compile --kv-cache` makes the paged-cache entry point of it (inputs
  ids, kv.past_lengths, kv.block_table, pages; no past, no present), and
  without --kv-cache the present outputs stay;
* with --gpu (on the GPU machine, --bin the bundle's bin): the --kv-cache
  artifact (fp32) generates the same ids on the GPU, its cached logits
  within 1e-3 of the reference executor recomputing the whole sequence.

    python3 test/numerics/past_present.py --bin build/bin \
        --models test/models [--gpu] [--report FILE]

Exit 0 when every check holds, 1 when one does not, 77 without onnxruntime.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

from reporting import Report

PROMPT = [5, 17, 99, 3, 42, 64, 7, 120]
STEPS = 16


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n"
                           f"{p.stderr.strip()[-2000:]}")
    return p.stdout + p.stderr


def onnxruntime_greedy(model):
    import numpy as np
    import onnxruntime as ort
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32)
            for i in sess.get_inputs() if i.name.startswith("past_key_values.")}
    outputs = [o.name for o in sess.get_outputs()]
    ids, margins, feed = [], [], np.array([PROMPT], np.int64)
    for _ in range(STEPS):
        got = dict(zip(outputs, sess.run(None, {"input_ids": feed, **past})))
        last = got["logits"][0, -1]
        top2 = np.sort(last)[-2:]
        margins.append(float(top2[1] - top2[0]))
        ids.append(int(last.argmax()))
        past = {n.replace("present.", "past_key_values."): v
                for n, v in got.items() if n.startswith("present.")}
        feed = np.array([[ids[-1]]], np.int64)
    return ids, min(margins)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--models", required=True, help="the project's test/models")
    ap.add_argument("--report")
    ap.add_argument("--gpu", action="store_true",
                    help="also compile the --kv-cache artifact and generate on the GPU")
    args = ap.parse_args()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("SKIPPED: onnxruntime is not installed (pip install onnxruntime)")
        return 77
    report = Report(args.report)
    past_model = os.path.join(args.models, "torchscript", "llama-past-like", "model.onnx")
    twin = os.path.join(args.models, "torchscript", "llama-like", "model.onnx")
    kuai_run = os.path.join(args.bin, "kuai-run")
    prompt = ",".join(str(i) for i in PROMPT)

    want, margin = onnxruntime_greedy(past_model)
    report.say(f"onnxruntime, presents fed back as the past: ids {want} "
                f"(smallest top-2 logit margin {margin:.3g})")

    def kuai_ids(model, *extra):
        out = run([kuai_run, model, "--prompt-ids", prompt, "--max-new-tokens",
                   str(STEPS), "--print-ids", "--compare-full-recompute", *extra])
        m = re.search(r"^generated ids:(.*)$", out, re.M)
        ids = [int(x) for x in m.group(1).split()] if m else None
        cache = re.search(r"^(ok|FAIL): [^\n]*KV cache.*$", out, re.M)
        return ids, cache.group(0) if cache else "no cache comparison printed"

    ok = True
    for label, model in (("llama-past-like (past/present export)", past_model),
                         ("llama-like (its full-sequence twin)", twin)):
        ids, cache = kuai_ids(model)
        same = ids == want
        ok &= same and cache.startswith("ok")
        report.say(f"{label}: kuai-run ids {'equal' if same else 'DIFFER: ' + str(ids)}"
                    f"; {cache}")

    compile_ = os.path.join(args.bin, "kuai-compile")
    if args.gpu:
        with tempfile.TemporaryDirectory() as work:
            art = os.path.join(work, "model.kuai")
            run([compile_, past_model, "--kv-cache", "--max-batch", "1", "--max-seq",
                 "64", "--emit=artifact", "-o", art])
            ids, cache = kuai_ids(art, "--reference-model", past_model)
        same = ids == want
        ok &= same and cache.startswith("ok")
        report.say(f"llama-past-like --kv-cache artifact on the GPU: ids "
                    f"{'equal' if same else 'DIFFER: ' + str(ids)}; {cache}")
    cached = run([compile_, past_model, "--kv-cache", "--emit=transformer"])
    head = cached[cached.find("func.func @main"):].splitlines()[0]
    names = re.findall(r'kuai\.name = "([^"]+)"', head)
    expected = ["input_ids", "kv.past_lengths", "kv.block_table"]
    entry = (names[:3] == expected and "paged_attention" in cached and
             not any(n.startswith(("past_key_values.", "present.")) for n in names))
    ok &= entry
    report.say(f"kuai-compile --kv-cache: entry point {'ok' if entry else 'WRONG'} "
                f"({', '.join(names)})")
    plain = run([compile_, past_model, "--emit=transformer"])
    kept = plain.count('kuai.name = "present.') == 4
    ok &= kept
    report.say(f"kuai-compile without --kv-cache: the 4 present outputs "
                f"{'stay' if kept else 'are MISSING'}")
    report.say("PASS" if ok else "FAIL")
    return report.finish(0 if ok else 1)


if __name__ == "__main__":
    sys.exit(main())
