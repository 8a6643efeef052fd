"""Task-variance clustering of hidden units (Yang et al. 2019) and the study's figures.

For the bias-trained network of one (width, seed), the task variance of hidden unit ``i`` in
task ``t`` is the variance of its first-layer activation over task ``t``'s test inputs, the
network carrying task ``t``'s biases: ``TV[i, t] = Var_x h_i(x; b_t)``. Units that never vary
are dropped; each remaining row is divided by its maximum over tasks (Yang et al.'s
normalisation), and the rows are clustered (Ward linkage, the number of clusters chosen by the
silhouette score). Reported per seed:

``spearman_tv_bias``   Spearman r between TV[i, t] and |b_t,i − b_init,i| over (unit, task);
``spearman_bias_mask`` Spearman r, over (unit, task), between |Δb| and the fraction of the unit's
                       weights (incoming and outgoing) that task ``t``'s mask keeps;
``top_overlap``        fraction of the top ``top_fraction`` units by |Δb| that are also in the
                       top ``top_fraction`` by mask-kept fraction (chance: ``top_fraction``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.metrics import silhouette_score

from brainbias.models.feedforward import activations


def task_variance(net, biases, x_test):
    """TV matrix (unit, task) of the first hidden layer; ``biases[l]`` has a context axis."""
    tv = []
    for c in range(x_test.shape[0]):
        x = jnp.asarray(x_test[c], net.weights[0].dtype)
        h = activations(net, tuple(b[c] for b in biases), x)[0]
        tv.append(np.var(np.asarray(h, np.float64), axis=0))
    return np.stack(tv, axis=1)


def cluster_units(tv, *, max_clusters):
    """Normalised TV of the active units, their cluster labels and the chosen k."""
    active = tv.sum(axis=1) > 1e-8
    norm = tv[active] / tv[active].max(axis=1, keepdims=True)
    z = linkage(norm, method="ward")
    best = (-np.inf, 2, None)
    for k in range(2, max(3, min(max_clusters, len(norm) - 1) + 1)):
        labels = fcluster(z, k, criterion="maxclust")
        if len(np.unique(labels)) < 2:
            continue
        score = silhouette_score(norm, labels)
        if score > best[0]:
            best = (score, k, labels)
    return norm, best[2], best[1], active


def mask_kept_fraction(scores):
    """(unit, task): fraction of first-hidden-layer unit ``i``'s in- and out-weights kept."""
    w_in = np.asarray(scores[0]) > 0        # (context, unit, input)
    w_out = np.asarray(scores[1]) > 0       # (context, next, unit)
    kept = (w_in.sum(axis=2) + w_out.sum(axis=1)) / (w_in.shape[2] + w_out.shape[1])
    return kept.T


def _top_overlap(a, b, fraction):
    k = max(1, int(round(fraction * a.shape[0])))
    out = []
    for t in range(a.shape[1]):
        top_a = set(np.argsort(-a[:, t])[:k])
        top_b = set(np.argsort(-b[:, t])[:k])
        out.append(len(top_a & top_b) / k)
    return float(np.mean(out))


def task_variance_study(study, data, out):
    """Analysis rows (one per seed) and the arrays of the first seed for the figure."""
    import run as R

    s, a = study["study"], study["analysis"]
    width = int(a.get("width", max(s["widths"])))
    rows, first = [], None
    for seed in s["seeds"]:
        net = R.make_net(study, width, seed)
        biases, _ = R.load_params(out, "bias", width, seed)
        _, scores = R.load_params(out, "mask", width, seed)
        tv = task_variance(net, biases, data["x_test"])
        norm, labels, k, active = cluster_units(tv, max_clusters=int(a["max_clusters"]))
        dbias = np.abs(np.asarray(biases[0], np.float64)).T      # init biases are 0
        kept = mask_kept_fraction(scores)
        rows.append({
            "kind": "task_variance", "width": width, "seed": int(seed), "n_clusters": int(k),
            "n_active_units": int(active.sum()),
            "spearman_tv_bias": float(stats.spearmanr(tv.ravel(), dbias.ravel())[0]),
            "spearman_bias_mask": float(stats.spearmanr(dbias.ravel(), kept.ravel())[0]),
            "top_overlap": _top_overlap(dbias, kept, float(a["top_fraction"])),
            "top_overlap_chance": float(a["top_fraction"]),
            "mask_fraction_kept": float(np.mean([np.mean(np.asarray(sc) > 0) for sc in scores]))})
        if first is None:
            first = {"norm": norm, "labels": labels, "tv": tv, "dbias": dbias, "active": active}
    return {"rows": rows, "first": first, "width": width}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_figure(study, rows, path):
    """Test accuracy vs width: the mean over tasks, then each task; error bars = s.d. over seeds."""
    import run as R

    plt = _plt()
    s = study["study"]
    names = ["mean over tasks"] + list(s["tasks"])
    widths = list(s["widths"])
    fig, axes = plt.subplots(2, 4, figsize=(14, 6.4), sharex=True)
    for ax, name in zip(axes.ravel(), names, strict=False):
        for i, m in enumerate(R.METHODS):
            if m not in s.get("methods", R.METHODS):
                continue
            sel = [r for r in rows if r["method"] == m and (name == names[0] or r["task"] == name)]
            mean, err = [], []
            for w in widths:
                per_seed = [np.mean([r["test_accuracy"] for r in sel if r["width"] == w
                                     and r["seed"] == sd]) for sd in s["seeds"]]
                mean.append(np.mean(per_seed))
                err.append(np.std(per_seed, ddof=1) if len(per_seed) > 1 else 0.0)
            ax.errorbar(widths, mean, yerr=err, marker="o", ms=4, capsize=3, color=f"C{i}",
                        label=R.LABELS[m])
        if name != names[0]:
            chance = next(r["chance"] for r in rows if r["task"] == name)
            ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance (majority class)")
        ax.set_xscale("log", base=2)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("hidden width (units)")
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy (fraction correct)")
    axes[0, 1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Digits tasks, fixed random MLP ({s.get('n_hidden_layers', 1)} hidden "
                 f"layer(s)); mean ± s.d. over {len(s['seeds'])} seeds", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def task_variance_figure(study, tv, path):
    """Normalised TV matrix sorted by cluster, and TV against |learned bias|."""
    plt = _plt()
    f, tasks = tv["first"], study["study"]["tasks"]
    order = np.argsort(f["labels"], kind="stable")
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1.4, 1]})
    im = a0.imshow(f["norm"][order].T, aspect="auto", cmap="viridis", interpolation="nearest")
    bounds = np.flatnonzero(np.diff(f["labels"][order])) + 0.5
    for b in bounds:
        a0.axvline(b, color="w", lw=0.8)
    a0.set_yticks(range(len(tasks)), tasks, fontsize=8)
    a0.set_xlabel("hidden unit (sorted by cluster)")
    a0.set_title(f"normalised task variance, width {tv['width']}, seed "
                 f"{study['study']['seeds'][0]}: {len(bounds) + 1} clusters", fontsize=10)
    fig.colorbar(im, ax=a0, label="TV / max over tasks")
    r = tv["rows"][0]["spearman_tv_bias"]
    a1.loglog(f["dbias"].ravel() + 1e-6, f["tv"].ravel() + 1e-9, ".", ms=2, alpha=0.4)
    a1.set_xlabel("|learned first-layer bias| (a.u.)")
    a1.set_ylabel("task variance of the unit (a.u.²)")
    a1.set_title(f"one point per (unit, task); Spearman r = {r:.2f}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
