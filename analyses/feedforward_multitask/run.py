"""Feedforward bias-only multitask learning on digits (issue 10, study 1; Williams et al. 2024).

``python analyses/feedforward_multitask/run.py CONFIG --out OUT`` draws, for every width and
seed, ONE fixed random MLP (64 → width [→ width] → 10, ReLU) and trains it on the seven digits
tasks of ``tasks.py`` four ways:

``bias``     one bias set per task (a context each), the weights fixed — one call, 7 contexts;
``mask``     one binary mask over the fixed weights per task (straight-through scores), biases
             fixed at 0 — one call, 7 contexts;
``readout``  the last weight matrix and output biases, one readout per task (7 calls);
``full``     every weight and bias, one network per task from the same random start (7 calls).

It writes ``OUT/results.jsonl`` (one line per method, width, seed and task; then the analysis
lines), ``OUT/table.md``, ``OUT/accuracy_vs_width.png``, ``OUT/task_variance.png`` and the
trained biases and mask scores in ``OUT/params/`` (``.npz``; the test recomputes the
accuracies from them). The task-variance analysis (Yang et al. 2019) uses the bias-trained
networks of ``analysis.width``. Only the public API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tasks as T  # noqa: E402

from brainbias.models.feedforward import (  # noqa: E402
    apply_mask,
    forward,
    init_biases,
    init_mask_scores,
    make_feedforward,
)
from brainbias.training.feedforward import fit_feedforward  # noqa: E402

METHODS = ("bias", "mask", "readout", "full")
DTYPE = jnp.float32
LABELS = {"bias": "bias only (per task)", "mask": "mask learning (per task)",
          "readout": "readout only (per task)", "full": "full training (net per task)"}


def make_net(study, width, seed):
    """The fixed random network of (width, seed)."""
    s = study["study"]
    sizes = (64,) + (int(width),) * int(s.get("n_hidden_layers", 1)) + (T.N_LOGITS,)
    return make_feedforward(sizes, nonlinearity=s.get("nonlinearity", "relu"),
                            gain=float(s.get("gain", 1.0)), key=jax.random.PRNGKey(seed),
                            dtype=DTYPE)


def masked_logits(net, scores, biases, x):
    """Logits of one context under the hard mask ``scores > 0``."""
    masks = tuple((s > 0).astype(DTYPE) for s in scores)
    return forward(apply_mask(net, masks), biases, x)


def _fit(method, net, data, tr, key):
    """Train one (width, seed) network by ``method``; return per-task logits and params."""
    x, y = jnp.asarray(data["x_train"], DTYPE), jnp.asarray(T.one_hot(data["y_train"]), DTYPE)
    n_ctx, lr, steps = x.shape[0], float(tr["learning_rate"][method]), int(tr["n_steps"])
    common = dict(loss="softmax_cross_entropy", n_steps=steps, learning_rate=lr)
    xt = jnp.asarray(data["x_test"], DTYPE)
    if method in ("bias", "mask"):
        biases = init_biases(net, n_ctx)
        scores = None
        if method == "mask":
            scores = init_mask_scores(net, n_ctx, value=float(tr["mask_score_init"]),
                                      scale=float(tr["mask_score_noise"]), key=key)
        fit = fit_feedforward(net, biases, x, y, trainable=method, mask_scores=scores, **common)
        params = {"biases": fit.biases, "scores": fit.mask_scores}
        if method == "bias":
            logits = [forward(net, tuple(b[c] for b in fit.biases), xt[c]) for c in range(n_ctx)]
        else:
            logits = [masked_logits(net, tuple(s[c] for s in fit.mask_scores),
                                    tuple(b[c] for b in fit.biases), xt[c]) for c in range(n_ctx)]
        return logits, params, float(fit.losses[-1])
    logits, losses = [], []
    for c in range(n_ctx):
        fit = fit_feedforward(net, init_biases(net, 1), x[c:c + 1], y[c:c + 1],
                              trainable="all" if method == "full" else "readout", **common)
        logits.append(forward(fit.network, tuple(b[0] for b in fit.biases), xt[c]))
        losses.append(float(fit.losses[-1]))
    return logits, None, float(np.mean(losses))


def n_trained(method, net):
    """Trained parameters per task."""
    sizes = net.layer_sizes
    if method == "bias":
        return int(sum(sizes[1:]))
    if method == "mask":
        return int(sum(w.size for w in net.weights))
    if method == "readout":
        return int(sizes[-1] * (sizes[-2] + 1))
    return int(sum(w.size for w in net.weights) + sum(sizes[1:]))


def save_params(out, method, width, seed, params):
    arrays = {f"biases_{i}": np.asarray(b) for i, b in enumerate(params["biases"])}
    if params["scores"] is not None:
        arrays.update({f"scores_{i}": np.asarray(s) for i, s in enumerate(params["scores"])})
    (out / "params").mkdir(exist_ok=True)
    np.savez(out / "params" / f"{method}_w{width}_s{seed}.npz", **arrays)


def load_params(out, method, width, seed):
    """``(biases, scores or None)`` as saved by :func:`save_params`."""
    with np.load(out / "params" / f"{method}_w{width}_s{seed}.npz") as z:
        biases = tuple(jnp.asarray(z[f"biases_{i}"]) for i in range(len(
            [k for k in z.files if k.startswith("biases_")])))
        scores = tuple(jnp.asarray(z[f"scores_{i}"]) for i in range(len(
            [k for k in z.files if k.startswith("scores_")]))) or None
    return biases, scores


def load_tasks(study):
    s = study["study"]
    return T.make_tasks(s["tasks"], split_seed=int(s["split_seed"]),
                        test_fraction=float(s["test_fraction"]),
                        permutation_seed=int(s["permutation_seed"]))


def run_accuracy(study, data, out, log):
    s, tr = study["study"], study["training"]
    rows = []
    for width in s["widths"]:
        for seed in s["seeds"]:
            net = make_net(study, width, seed)
            for method in s.get("methods", METHODS):
                t0 = time.perf_counter()
                logits, params, loss = _fit(method, net, data, tr, jax.random.PRNGKey(1000 + seed))
                wall = time.perf_counter() - t0
                if params is not None:
                    save_params(out, method, width, seed, params)
                for c, name in enumerate(s["tasks"]):
                    k = int(data["n_classes"][c])
                    rows.append({"kind": "accuracy", "method": method, "width": int(width),
                                 "seed": int(seed), "task": name, "n_classes": k,
                                 "test_accuracy": T.accuracy(logits[c], data["y_test"][c], k),
                                 "chance": float(data["chance"][c]),
                                 "n_trained_per_task": n_trained(method, net),
                                 "final_loss": loss, "wall_s": wall})
                    log.write(json.dumps(rows[-1]) + "\n")
                print(f"width {width} seed {seed} {method}: mean test acc "
                      f"{np.mean([r['test_accuracy'] for r in rows[-len(s['tasks']):]]):.3f} "
                      f"({wall:.1f} s)", flush=True)
    return rows


def _summary(rows, method, width):
    per_seed = {}
    for r in rows:
        if r["method"] == method and r["width"] == width:
            per_seed.setdefault(r["seed"], []).append(r["test_accuracy"])
    means = np.array([np.mean(v) for v in per_seed.values()])
    return float(means.mean()), float(means.std(ddof=1)) if len(means) > 1 else 0.0


def table(study, rows, analysis) -> str:
    s = study["study"]
    methods = [m for m in METHODS if m in s.get("methods", METHODS)]
    lines = ["Test accuracy averaged over the tasks, mean ± s.d. over seeds "
             f"({len(s['seeds'])} seeds).", "",
             "| width | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for w in s["widths"]:
        cells = ["{:.3f} ± {:.3f}".format(*_summary(rows, m, w)) for m in methods]
        lines.append(f"| {w} | " + " | ".join(cells) + " |")
    w = max(s["widths"])
    lines += ["", f"Per task at width {w} (mean over seeds); chance = majority class.", "",
              "| task | chance | " + " | ".join(methods) + " |",
              "|---|---|" + "---|" * len(methods)]
    for name in s["tasks"]:
        sel = [r for r in rows if r["task"] == name and r["width"] == w]
        cells = [f"{np.mean([r['test_accuracy'] for r in sel if r['method'] == m]):.3f}"
                 for m in methods]
        lines.append(f"| {name} | {sel[0]['chance']:.3f} | " + " | ".join(cells) + " |")
    if analysis:
        lines += ["", f"Task-variance analysis, width {analysis[0]['width']} (mean ± s.d. over "
                  "seeds).", "", "| quantity | value |", "|---|---|"]
        for key in ("n_clusters", "spearman_tv_bias", "spearman_bias_mask", "top_overlap",
                    "top_overlap_chance", "mask_fraction_kept"):
            v = np.array([a[key] for a in analysis], dtype=float)
            lines.append(f"| {key} | {v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    study = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    import task_variance as A  # the task-variance analysis and figures (this folder)

    data = load_tasks(study)
    with open(args.out / "results.jsonl", "w") as log:
        rows = run_accuracy(study, data, args.out, log)
        tv = A.task_variance_study(study, data, args.out)
        for r in tv["rows"]:
            log.write(json.dumps(r) + "\n")
    (args.out / "table.md").write_text(table(study, rows, tv["rows"]))
    A.accuracy_figure(study, rows, args.out / "accuracy_vs_width.png")
    A.task_variance_figure(study, tv, args.out / "task_variance.png")
    print(table(study, rows, tv["rows"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
