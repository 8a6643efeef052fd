"""Figures of a fitted run: trajectories, loss, attractors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._common import _plt, _used_outputs, _write_figures


def plot_trajectories(ds, context, *, max_steps: int = 600):
    """Target vs free-running output of one context, one panel per output dimension."""
    plt = _plt()
    d = ds.sel(context=context)
    outs = _used_outputs(ds, context)
    n = min(max_steps, int(np.isfinite(d["target"].values[:, 0]).sum()))
    t = d["time"].values[:n]
    fig, axes = plt.subplots(len(outs), 1, figsize=(8, 1.8 * len(outs) + 0.8), sharex=True,
                             squeeze=False)
    lyap = float(d["lyapunov_exponent"])
    for ax, o in zip(axes[:, 0], outs, strict=True):
        ax.plot(t, d["target"].sel(output=o).values[:n], color="k", lw=1.2, label="target")
        ax.plot(t, d["prediction"].sel(output=o).values[:n], color="C3", lw=1.0, ls="--",
                label="network (free-running)")
        ax.set_ylabel(o)
        vpt = float(d["valid_prediction_time"])
        if np.isfinite(vpt) and vpt < t[-1]:
            ax.axvline(vpt, color="0.6", lw=0.8, ls=":")
    axes[0, 0].legend(loc="upper right", fontsize=8, frameon=False)
    unit = "time" + (f"  (Lyapunov time = {1 / lyap:.2f})" if np.isfinite(lyap) else "")
    axes[-1, 0].set_xlabel(unit)
    fig.suptitle(f"{context}: NRMSE@{ds.attrs['nrmse_horizon']} = {float(d['nrmse']):.3f}, "
                 f"valid prediction {float(d['valid_prediction_steps']):.0f} steps "
                 "(dotted line)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_loss(ds):
    """Training loss per context (log scale) and the teacher-forcing strength."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if ds.sizes["iteration"] == 0:
        ax.text(0.5, 0.5, f"no iterative training (mode={ds.attrs['mode']})", ha="center",
                transform=ax.transAxes)
    for c in ds["context"].values:
        ax.semilogy(ds["iteration"].values, ds["loss"].sel(context=c).values, lw=1, label=str(c))
    ax.set_xlabel("iteration")
    loss = json.loads(ds.attrs["config"]).get("training", {}).get("loss", "mse")
    ax.set_ylabel("training loss (" + ("Poisson NLL" if loss == "poisson" else "MSE")
                  + " per output)")
    if ds.sizes["iteration"] and np.any(ds["teacher_forcing"].values > 0):
        ax2 = ax.twinx()
        ax2.plot(ds["iteration"].values, ds["teacher_forcing"].values, color="0.5", ls=":", lw=1)
        ax2.set_ylabel("teacher forcing s", color="0.4")
        ax2.set_ylim(0, 1.05)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"mode={ds.attrs['mode']}, run_mode={ds.attrs['run_mode']}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_attractor(ds, context, *, max_steps: int = 5000):
    """Target and generated attractor side by side (3-D for ≥ 3 outputs, else a phase plane)."""
    plt = _plt()
    d = ds.sel(context=context)
    outs = _used_outputs(ds, context)[:3]
    valid = np.isfinite(d["target"].values[:, 0])
    n = min(max_steps, int(valid.sum()))
    three_d = len(outs) >= 3
    fig = plt.figure(figsize=(9, 4.2))
    # a single output is shown as a return map y(t+1) against y(t)
    labels = outs if len(outs) > 1 else [f"{outs[0]}(t)", f"{outs[0]}(t+1)"]
    for i, (name, label) in enumerate((("target", "target"), ("prediction", "network"))):
        xyz = [d[name].sel(output=o).values[:n] for o in outs]
        if three_d:
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            ax.plot(*xyz, lw=0.4, color="k" if i == 0 else "C3")
            ax.set_zlabel(labels[2])
        else:
            ax = fig.add_subplot(1, 2, i + 1)
            if len(outs) == 1:
                xyz = [xyz[0][:-1], xyz[0][1:]]
            ax.plot(*xyz[:2], lw=0.5, color="k" if i == 0 else "C3")
            ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        ax.set_title(label)
    fig.suptitle(f"{context}: {n} free-running steps", fontsize=10)
    fig.tight_layout()
    return fig


def plot_attractor_comparison(reference, generated, *, dt: float, names=("x", "y", "z"),
                              vpt_errors=None, lyapunov_exponent=None, max_steps: int = 20000,
                              title: str = ""):
    """Model vs reference attractor: 3-D views, marginal densities, power spectra, VPT curve.

    Parameters
    ----------
    reference, generated : array (time, output)
        An independent true trajectory and the network's free run (≥ 2 outputs; the first
        three are drawn).
    dt : float
    vpt_errors : array (start, time), optional
        Normalised forecast error ``e_t`` from several held-out starts; drawn against time (in
        Lyapunov times when ``lyapunov_exponent`` is given) with the 0.4 threshold.
    """
    plt = _plt()
    ref, gen = np.asarray(reference), np.asarray(generated)
    k = min(3, ref.shape[1])
    fig = plt.figure(figsize=(13, 7.5))
    grid = fig.add_gridspec(2, 4)
    for i, (x, label, colour) in enumerate(((ref, "reference", "k"), (gen, "network", "C3"))):
        n = min(max_steps, len(x))
        if k == 3:
            ax = fig.add_subplot(grid[0, i], projection="3d")
            ax.plot(*x[:n, :3].T, lw=0.25, color=colour)
            ax.set_zlabel(names[2])
        else:
            ax = fig.add_subplot(grid[0, i])
            ax.plot(*x[:n, :2].T, lw=0.3, color=colour)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(label)
    for d in range(k):
        ax = fig.add_subplot(grid[1, d])
        lo, hi = np.nanmin(ref[:, d]), np.nanmax(ref[:, d])
        span = hi - lo
        bins = np.linspace(lo - 0.2 * span, hi + 0.2 * span, 60)
        ax.hist(ref[:, d], bins=bins, density=True, histtype="step", color="k", label="reference")
        ax.hist(np.clip(gen[:, d], bins[0], bins[-1]), bins=bins, density=True, histtype="step",
                color="C3", label="network")
        ax.set_xlabel(names[d])
        ax.set_title(f"marginal of {names[d]}", fontsize=9)
        if d == 0:
            ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[0, 2])
    n = min(len(ref), len(gen))
    freqs = np.fft.rfftfreq(n, dt)
    for x, colour in ((ref[:n], "k"), (gen[:n], "C3")):
        z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1.0)
        power = np.mean(np.abs(np.fft.rfft(z, axis=0)) ** 2, axis=1)
        smooth = np.convolve(power, np.ones(21) / 21, mode="same")
        ax.semilogy(freqs[1:], smooth[1:], color=colour, lw=0.8)
    ax.set_xlim(0, min(freqs[-1], 5.0))
    ax.set_xlabel("frequency (1 / time unit)")
    ax.set_title("power spectrum (mean over outputs)", fontsize=9)
    ax = fig.add_subplot(grid[0, 3])
    if vpt_errors is not None:
        err = np.asarray(vpt_errors)
        t = np.arange(1, err.shape[1] + 1) * dt
        unit = "time units"
        if lyapunov_exponent:
            t, unit = t * lyapunov_exponent, "Lyapunov times"
        ax.plot(t, err.T, color="C3", lw=0.4, alpha=0.4)
        ax.plot(t, np.median(err, axis=0), color="k", lw=1.2, label="median")
        ax.axhline(0.4, color="C0", ls="--", lw=0.8, label="threshold 0.4")
        ax.set_ylim(0, 2.0)
        ax.set_xlabel(unit)
        ax.legend(fontsize=8)
    ax.set_title("forecast error from held-out starts", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig



def save_run_figures(ds, out_dir) -> list[Path]:
    """Write the standard figures of a run into ``out_dir``; returns the paths."""
    figures = [("loss.png", lambda: plot_loss(ds))]
    for c in map(str, ds["context"].values):
        figures += [(f"trajectories_{c}.png", lambda c=c: plot_trajectories(ds, c)),
                    (f"attractor_{c}.png", lambda c=c: plot_attractor(ds, c))]
    return _write_figures(out_dir, figures)
