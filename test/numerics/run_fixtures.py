#!/usr/bin/env python3
"""Runs every fixture model through kuai and checks it:

* import + kuai-graph-cleanup + reference executor, both test data sets from
  one import, against the reference outputs (relative L2 <= 1e-5 for fp32
  models, <= 1e-3 with fp16 weights: kuai-run's defaults);
* the same after kuai-raise (transformer ops);
* kuai-compile --emit=transformer --require-raised: no primitive compute
  left, and one kuai.attention per layer (layers from config.json).

Models come from ../shared/fixtures (skipped, visibly, when absent) and from
test/models (the family models the project exported itself).
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

from reporting import Report


def layers_of(model_dir):
    try:
        with open(os.path.join(model_dir, "config.json")) as f:
            config = json.load(f)
    except OSError:
        return None
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if key in config:
            return config[key]
    return None


def compare_lines(stdout):
    return [(m.group(1), m.group(2)) for m in re.finditer(
        r"compare '[^']+': (ok|FAIL) rel_l2 (\S+)", stdout)]


def is_past_present(model):
    """Whether config.json marks the export as taking past_key_values.N.*
    inputs and returning present.N.* outputs."""
    config = os.path.join(os.path.dirname(model), "config.json")
    if not os.path.exists(config):
        return False
    with open(config) as f:
        return bool(json.load(f).get("past_present"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--fixtures", required=True, help="../shared/fixtures")
    p.add_argument("--models", required=True, help="the project's test/models")
    p.add_argument("--report")
    args = p.parse_args()
    report = Report(args.report)
    say = report.say

    models = []
    if os.path.isdir(args.fixtures):
        models += [(args.fixtures, m) for m in sorted(glob.glob(
            os.path.join(args.fixtures, "**", "model.onnx"), recursive=True))]
    else:
        say(f"SKIPPED: ../shared/fixtures not found at {args.fixtures}; "
            "checking the repository's own models only")
    models += [(args.models, m) for m in sorted(glob.glob(
        os.path.join(args.models, "**", "model.onnx"), recursive=True))]
    if not models:
        say("SKIPPED: no models found")
        return report.finish(77)

    run = os.path.join(args.bin, "kuai-run")
    compile_ = os.path.join(args.bin, "kuai-compile")
    failed = 0
    say(f"{'model':24} {'graph rel_l2 (sets)':>22} {'raised rel_l2 (sets)':>22} "
        f"{'attention/layers':>16}  result")
    for root, model in models:
        d = os.path.dirname(model)
        name = os.path.relpath(d, root)
        sets = sorted(glob.glob(os.path.join(d, "test_data_set_*")))
        expect = [a for s in sets for a in ("--expect", s)]
        graph = subprocess.run([run, model, *expect], capture_output=True, text=True)
        raised = subprocess.run([run, model, "--raise", *expect],
                                capture_output=True, text=True)
        # A past/present export is raised in the form generation uses: the
        # full-sequence one (its own form keeps the past offset as a rotary
        # table and a bias mask).
        form = ["--empty-past"] if is_past_present(model) else []
        stats = subprocess.run([compile_, model, "--emit=transformer", "--stats",
                                "--require-raised", "-o", os.devnull, *form],
                               capture_output=True, text=True)
        m = re.search(r"^kuai\.attention\s+\d+\s+(\d+)", stats.stderr, re.M)
        attention = int(m.group(1)) if m else 0
        layers = layers_of(d)
        g, r = compare_lines(graph.stdout), compare_lines(raised.stdout)
        # One compare line per output and data set (past/present exports
        # have more outputs than the logits).
        ok = (graph.returncode == 0 and raised.returncode == 0 and
              stats.returncode == 0 and len(g) >= len(sets) and
              len(r) == len(g) and all(x[0] == "ok" for x in g + r) and
              layers is not None and attention == layers)
        failed += not ok
        say(f"{name:24} {' '.join(x[1] for x in g):>22} {' '.join(x[1] for x in r):>22} "
            f"{attention:>9}/{layers!s:<6}  {'ok' if ok else 'FAIL'}")
        if not ok:
            for proc in (graph, raised, stats):
                if proc.returncode != 0:
                    say((proc.stdout[-1500:] + proc.stderr[-1500:]).rstrip())
    say(f"\nmodels: {len(models) - failed} of {len(models)} pass (both data sets "
        "before and after raising, fully raised, one attention per layer)")
    return report.finish(1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
