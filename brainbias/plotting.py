"""Figures of a run (matplotlib imported lazily, inside each function; Agg when headless)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["plot_trajectories", "plot_loss", "plot_attractor", "save_run_figures"]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display():
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _used_outputs(ds, context):
    mask = ds["output_mask"].sel(context=context).values.astype(bool)
    return [str(o) for o, m in zip(ds["output"].values, mask) if m]


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
    for ax, o in zip(axes[:, 0], outs):
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
    ax.set_ylabel("training loss (MSE per output)")
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
    for i, (name, label) in enumerate((("target", "target"), ("prediction", "network"))):
        xyz = [d[name].sel(output=o).values[:n] for o in outs]
        if three_d:
            ax = fig.add_subplot(1, 2, i + 1, projection="3d")
            ax.plot(*xyz, lw=0.4, color="k" if i == 0 else "C3")
            ax.set_zlabel(outs[2])
        else:
            ax = fig.add_subplot(1, 2, i + 1)
            if len(outs) == 1:
                xyz = [xyz[0][:-1], xyz[0][1:]]
                outs_l = [f"{outs[0]}(t)", f"{outs[0]}(t+1)"]
            else:
                outs_l = outs
            ax.plot(*xyz[:2], lw=0.5, color="k" if i == 0 else "C3")
            ax.set_aspect("equal", adjustable="datalim")
        ax.set_xlabel(outs[0] if len(outs) > 1 else f"{outs[0]}(t)")
        ax.set_ylabel(outs[1] if len(outs) > 1 else f"{outs[0]}(t+1)")
        ax.set_title(label)
    fig.suptitle(f"{context}: {n} free-running steps", fontsize=10)
    fig.tight_layout()
    return fig


def save_run_figures(ds, out_dir) -> list[Path]:
    """Write the standard figures of a run into ``out_dir``; returns the paths."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(fig, name):
        path = out / name
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)

    save(plot_loss(ds), "loss.png")
    for c in ds["context"].values:
        c = str(c)
        save(plot_trajectories(ds, c), f"trajectories_{c}.png")
        save(plot_attractor(ds, c), f"attractor_{c}.png")
    return paths


def plot_fixed_points_pca(an):
    """Free-running trajectories of every context in the shared PC basis, with the fixed points
    coloured by stability (filled: stable, open: unstable, grey x: slow points)."""
    plt = _plt()
    contexts = [str(c) for c in an["context"].values]
    fig = plt.figure(figsize=(6.5, 5.5))
    ax = fig.add_subplot(1, 1, 1, projection="3d" if an.sizes["component"] >= 3 else None)
    k = min(3, an.sizes["component"])
    for i, c in enumerate(contexts):
        tr = an["trajectory_pcs"].sel(context=c).values
        tr = tr[np.all(np.isfinite(tr), axis=1)]
        ax.plot(*tr[:, :k].T, lw=0.5, color=f"C{i}", alpha=0.8, label=c)
        if "fixed_point_pcs" not in an:
            continue
        sel = (an["fixed_point_context"] == c).values
        pts = an["fixed_point_pcs"].values[sel][:, :k]
        kind = an["fixed_point_kind"].values[sel]
        stable = an["fixed_point_stable_map"].values[sel].astype(bool) \
            if "fixed_point_stable_map" in an else np.zeros(len(pts), bool)
        for p, kd, st in zip(pts, kind, stable):
            if kd != "fixed":
                ax.scatter(*p, marker="x", color="0.5", s=20)
            else:
                ax.scatter(*p, s=45, edgecolors=f"C{i}", linewidths=1.5,
                           facecolors=f"C{i}" if st else "none")
    ev = an["explained_variance_ratio"].values
    ax.set_xlabel(f"PC1 ({ev[0]:.0%})")
    if k > 1:
        ax.set_ylabel(f"PC2 ({ev[1]:.0%})")
    if k > 2:
        ax.set_zlabel(f"PC3 ({ev[2]:.0%})")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title("shared PCA basis: filled = stable fixed point, open = unstable, x = slow",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_eigenvalue_spectra(an):
    """Jacobian eigenvalues of every fixed point, per context, against the unit circle."""
    plt = _plt()
    contexts = [str(c) for c in an["context"].values]
    fig, axes = plt.subplots(1, len(contexts), figsize=(4 * len(contexts), 4), squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 400)
    for ax, (i, c) in zip(axes[0], enumerate(contexts)):
        ax.plot(np.cos(theta), np.sin(theta), color="0.6", lw=0.8)
        if "fixed_point_eigenvalue_real" in an:
            sel = (an["fixed_point_context"] == c).values
            re = an["fixed_point_eigenvalue_real"].values[sel]
            im = an["fixed_point_eigenvalue_imag"].values[sel]
            for j in range(len(re)):
                ax.scatter(re[j], im[j], s=6, alpha=0.6, color=f"C{j % 10}")
            if not len(re):
                ax.text(0, 0, "no fixed point found", ha="center")
        ax.set_aspect("equal")
        ax.set_title(f"{c}: map eigenvalues (unit circle = stability edge)", fontsize=9)
        ax.set_xlabel("Re λ")
        ax.set_ylabel("Im λ")
    fig.tight_layout()
    return fig


def save_analysis_figures(an, out_dir) -> list[Path]:
    """Write the analysis figures into ``out_dir``; returns the paths."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fig, name in ((plot_fixed_points_pca(an), "fixed_points_pca.png"),
                      (plot_eigenvalue_spectra(an), "eigenvalues.png")):
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        paths.append(out / name)
    return paths
