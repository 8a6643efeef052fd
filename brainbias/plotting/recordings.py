"""Figures of a run fitted to a recording: PSTHs, held-out scores, latents."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import _label_pcs, _plt, _write_figures
from .runs import plot_loss


def _example_neurons(ds, n_held_in: int, n_held_out: int):
    """Held-in and held-out neurons whose data PSTHs vary most (deterministic choice)."""
    var = ds["psth_data"].var(dim=("context", "time")).values
    held_out = ds["neuron_held_out"].values.astype(bool)
    order = np.argsort(-var, kind="stable")
    names = ds["neuron"].values
    pick_in = [names[i] for i in order if not held_out[i]][:n_held_in]
    pick_out = [names[i] for i in order if held_out[i]][:n_held_out]
    return [str(n) for n in pick_in], [str(n) for n in pick_out]


def plot_recording_psths(ds, context, *, n_held_in: int = 4, n_held_out: int = 2):
    """Held-out trials' PSTH vs the network and the smoothed-PSTH baseline, one condition.

    One panel per example neuron (the held-in and held-out neurons whose PSTHs vary most).
    """
    plt = _plt()
    d = ds.sel(context=context)
    held_in, held_out = _example_neurons(ds, n_held_in, n_held_out)
    names = held_in + held_out
    n_cols = min(3, len(names))
    n_rows = int(np.ceil(len(names) / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.4 * n_cols, 2.3 * n_rows + 0.6),
                             sharex=True, squeeze=False)
    t = d["time"].values
    for ax, name in zip(axes.ravel(), names, strict=False):
        ax.plot(t, d["psth_data"].sel(neuron=name).values, color="k", lw=1.2,
                label="data (held-out trials)")
        ax.plot(t, d["psth_baseline"].sel(neuron=name).values, color="0.6", lw=1.0, ls="--",
                label="baseline (training-trial PSTH)")
        ax.plot(t, d["psth_model"].sel(neuron=name).values, color="C3", lw=1.2,
                label="network")
        ax.set_title(f"{name} ({'held-out neuron' if name in held_out else 'held-in'})",
                     fontsize=8)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("rate (Hz)")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    axes[0, 0].legend(fontsize=7, frameon=False, loc="upper right")
    fig.suptitle(f"{context}: PSTH R² {float(d['psth_r2']):.2f} (baseline "
                 f"{float(d['psth_r2_baseline']):.2f}), co-bps {float(d['co_bps']):.3f} "
                 f"(baseline {float(d['co_bps_baseline']):.3f})", fontsize=9)
    fig.tight_layout()
    return fig


def plot_heldout_metrics(ds):
    """Held-out PSTH R², pVar and co-smoothing bits/spike per condition: network vs baseline."""
    plt = _plt()
    labels = [str(c) for c in ds["context"].values] + ["overall"]
    x = np.arange(len(labels))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, (name, title) in zip(axes, (("psth_r2", "PSTH R² (held-out trials)"),
                                        ("pvar", "pVar (held-out trials)"),
                                        ("co_bps", "co-smoothing bits/spike (held-out neurons)")),
                                 strict=True):
        model = np.append(ds[name].values, float(ds[f"{name}_overall"]))
        base = np.append(ds[f"{name}_baseline"].values, float(ds[f"{name}_baseline_overall"]))
        ax.bar(x - 0.2, model, width=0.4, color="C3", label="network")
        ax.bar(x + 0.2, base, width=0.4, color="0.6", label="smoothed-PSTH baseline")
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_latents_pca(ds, *, n_components: int = 3):
    """The network's unit rates per condition in a shared PCA basis (latent trajectories).

    PCA is fitted on the rates of all conditions pooled (:func:`brainbias.analysis.fit_pca`);
    circles mark the start of each trajectory.
    """
    from ..analysis.pca import fit_pca, project

    plt = _plt()
    rates = ds["rates"].transpose("context", "time", "unit")
    k = int(min(n_components, ds.sizes["unit"], rates.sizes["context"] * rates.sizes["time"] - 1))
    pca = fit_pca(rates, n_components=k)
    pcs = np.asarray(project(pca, rates).transpose("context", "time", "component").values)
    ev = pca["explained_variance_ratio"].values
    fig = plt.figure(figsize=(11, 4.6))
    ax = fig.add_subplot(1, 2, 1, projection="3d" if k >= 3 else None)
    t = ds["time"].values
    ax_t = [fig.add_subplot(k, 2, 2 * (i + 1)) for i in range(k)]
    for i, c in enumerate(ds["context"].values):
        p = pcs[i]
        ax.plot(*p[:, : min(k, 3)].T, color=f"C{i}", lw=1.0, label=str(c))
        ax.scatter(*p[0, : min(k, 3)], color=f"C{i}", s=25)
        for j, a in enumerate(ax_t):
            a.plot(t, p[:, j], color=f"C{i}", lw=1.0)
    _label_pcs(ax, ev, k)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax.set_title("network unit rates, shared PCA basis (circle = start)", fontsize=9)
    for j, a in enumerate(ax_t):
        a.set_ylabel(f"PC{j + 1}", fontsize=8)
        if j < k - 1:
            a.set_xticklabels([])
    ax_t[-1].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


def save_recording_figures(ds, out_dir) -> list[Path]:
    """Figures of a run fitted to a recording: ``loss.png``, ``psth_<condition>.png``,
    ``heldout_metrics.png`` and ``latents_pca.png`` in ``out_dir``; returns the paths."""
    figures = [("loss.png", lambda: plot_loss(ds))]
    figures += [(f"psth_{c}.png", lambda c=c: plot_recording_psths(ds, c))
                for c in map(str, ds["context"].values)]
    figures += [("heldout_metrics.png", lambda: plot_heldout_metrics(ds)),
                ("latents_pca.png", lambda: plot_latents_pca(ds))]
    return _write_figures(out_dir, figures)
