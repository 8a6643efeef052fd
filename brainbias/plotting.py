"""Figures of a run (matplotlib imported lazily, inside each function; Agg when headless)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["plot_trajectories", "plot_loss", "plot_attractor", "plot_attractor_comparison",
           "save_run_figures"]


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
    return [str(o) for o, m in zip(ds["output"].values, mask, strict=True) if m]


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


def _write_figures(out_dir, figures) -> list[Path]:
    """Draw, save (PNG, 110 dpi) and close each ``(file name, make_figure)`` in turn."""
    plt = _plt()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in figures:
        fig = make()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        paths.append(out / name)
    return paths


def save_run_figures(ds, out_dir) -> list[Path]:
    """Write the standard figures of a run into ``out_dir``; returns the paths."""
    figures = [("loss.png", lambda: plot_loss(ds))]
    for c in map(str, ds["context"].values):
        figures += [(f"trajectories_{c}.png", lambda c=c: plot_trajectories(ds, c)),
                    (f"attractor_{c}.png", lambda c=c: plot_attractor(ds, c))]
    return _write_figures(out_dir, figures)


def _label_pcs(ax, explained, k):
    """Axis labels "PCi (variance explained)" for the first ``min(k, 3)`` components."""
    setters = (ax.set_xlabel, ax.set_ylabel, getattr(ax, "set_zlabel", None))
    for i in range(min(k, 3)):
        setters[i](f"PC{i + 1} ({explained[i]:.0%})")


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
        for p, kd, st in zip(pts, kind, stable, strict=True):
            if kd != "fixed":
                ax.scatter(*p, marker="x", color="0.5", s=20)
            else:
                ax.scatter(*p, s=45, edgecolors=f"C{i}", linewidths=1.5,
                           facecolors=f"C{i}" if st else "none")
    ev = an["explained_variance_ratio"].values
    _label_pcs(ax, ev, k)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title("shared PCA basis: filled = stable fixed point, open = unstable, x = slow",
                 fontsize=9)
    fig.tight_layout()
    return fig


def plot_eigenvalue_spectra(an):
    """Jacobian spectra of every fixed point, per context (one column each): the map's
    eigenvalues λ against the unit circle (top, zoomed to the data) and the continuous-time
    field's μ = (λ − 1)/dt against the imaginary axis (bottom)."""
    plt = _plt()
    contexts = [str(c) for c in an["context"].values]
    fig, axes = plt.subplots(2, len(contexts), figsize=(4.2 * len(contexts), 7.5), squeeze=False)
    theta = np.linspace(0, 2 * np.pi, 2000)
    dt = float(an.attrs["dt"])
    for col, c in enumerate(contexts):
        top, bottom = axes[0, col], axes[1, col]
        if "fixed_point_eigenvalue_real" not in an or not np.any(
                an["fixed_point_context"].values == c):
            top.text(0.5, 0.5, "no fixed point found", ha="center", transform=top.transAxes)
            bottom.set_axis_off()
            top.set_title(c, fontsize=10)
            continue
        sel = an["fixed_point_context"].values == c
        re = an["fixed_point_eigenvalue_real"].values[sel]
        im = an["fixed_point_eigenvalue_imag"].values[sel]
        stable = an["fixed_point_stable_map"].values[sel].astype(bool)
        for j in range(len(re)):
            style = dict(s=7, alpha=0.7, color=f"C{j % 10}",
                         label=f"point {j} ({'stable' if stable[j] else 'unstable'})")
            top.scatter(re[j], im[j], **style)
            bottom.scatter((re[j] - 1) / dt, im[j] / dt, **style)
        top.plot(np.cos(theta), np.sin(theta), color="0.4", lw=0.8)
        pad = 0.05
        top.set_xlim(np.nanmin(re) - pad, max(np.nanmax(re), 1.0) + pad)
        top.set_ylim(np.nanmin(im) - pad, np.nanmax(im) + pad)
        top.set_title(f"{c}: map λ (circle |λ| = 1)", fontsize=10)
        top.set_xlabel("Re λ")
        top.set_ylabel("Im λ")
        bottom.axvline(0.0, color="0.4", lw=0.8)
        bottom.set_title(f"{c}: field μ = (λ − 1)/dt (line Re μ = 0)", fontsize=10)
        bottom.set_xlabel("Re μ (1/time)")
        bottom.set_ylabel("Im μ (1/time)")
        if len(re) <= 8:
            top.legend(fontsize=7, frameon=False, markerscale=2)
    fig.tight_layout()
    return fig


#: marker (matplotlib style, filled?) of each fixed-point classification in phase portraits
_FIXED_POINT_MARKERS = {"stable_node": ("o", True), "stable_focus": ("D", True),
                        "saddle": ("X", True), "unstable_node": ("o", False),
                        "unstable_focus": ("D", False), "marginal": ("s", False)}


def _portrait_panel(ax, an, c, colour):
    """One context's phase portrait in PC1–PC2: free run, fixed points by kind, cycles."""
    two = an.sizes["component"] >= 2
    xy = lambda p: (p[..., 0], p[..., 1] if two else np.zeros_like(p[..., 0]))  # noqa: E731
    tr = an["trajectory_pcs"].sel(context=c).values
    tr = tr[np.all(np.isfinite(tr), axis=1)]
    ax.plot(*xy(tr), lw=0.6, color=colour, alpha=0.6, label="stored free run")
    if "fixed_point_pcs" in an and "fixed_point_classification" in an:
        sel = (an["fixed_point_context"] == c).values
        pts, kinds = an["fixed_point_pcs"].values[sel], an["fixed_point_kind"].values[sel]
        classes = an["fixed_point_classification"].values[sel]
        for kind, (marker, filled) in _FIXED_POINT_MARKERS.items():
            m = (classes == kind) & (kinds == "fixed")
            if m.any():
                ax.scatter(*xy(pts[m]), marker=marker, s=60, edgecolors="k", linewidths=1.2,
                           facecolors="k" if filled else "none", zorder=4,
                           label=kind.replace("_", " "))
        if (kinds == "slow").any():
            ax.scatter(*xy(pts[kinds == "slow"]), marker="x", s=18, color="0.55", zorder=3,
                       label="slow point")
    if "attractor_kind" not in an:
        return
    n_runs = int((an["start_context"] == c).sum())
    for a in np.flatnonzero(an["attractor_context"].values == c):
        kind, reached = str(an["attractor_kind"].values[a]), int(an["attractor_n_starts"][a])
        if kind == "limit_cycle":
            orbit = an["attractor_orbit_pcs"].values[a]
            orbit = orbit[np.all(np.isfinite(orbit), axis=1)]
            ax.plot(*xy(np.concatenate([orbit, orbit[:1]])), color="C3", lw=2.0, zorder=5,
                    label=f"limit cycle, T = {float(an['attractor_period'][a]):.3g}")
        if kind != "unresolved":
            ax.annotate(f"{reached}/{n_runs}", xy(an["attractor_pcs"].values[a]), fontsize=7,
                        xytext=(6, 6), textcoords="offset points", zorder=6)


def plot_phase_portraits(an):
    """Phase portrait of each context in the shared PCA basis (PC1–PC2), one panel each.

    The stored free run, the fixed points with a marker per classification (filled: stable,
    open: unstable; circle node, diamond focus, X saddle, square marginal; grey x: slow
    points), the census's limit cycles drawn in red, and next to each attractor the number of
    census runs that reached it.
    """
    plt = _plt()
    contexts = [str(c) for c in an["context"].values]
    n_cols = min(3, len(contexts))
    n_rows = -(-len(contexts) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.6 * n_cols, 4.2 * n_rows),
                             squeeze=False)
    ev = an["explained_variance_ratio"].values
    for ax, (i, c) in zip(axes.ravel(), enumerate(contexts), strict=False):
        _portrait_panel(ax, an, c, f"C{i % 10}")
        _label_pcs(ax, ev, min(2, an.sizes["component"]))
        ax.set_title(c, fontsize=10)
        ax.legend(fontsize=6, frameon=False, loc="best")
    for ax in axes.ravel()[len(contexts):]:
        ax.set_visible(False)
    fig.suptitle("phase portraits, shared PCA basis of the unit rates", fontsize=10)
    fig.tight_layout()
    return fig


def save_analysis_figures(an, out_dir) -> list[Path]:
    """Write the analysis figures into ``out_dir``; returns the paths."""
    return _write_figures(out_dir, [("fixed_points_pca.png", lambda: plot_fixed_points_pca(an)),
                                    ("eigenvalues.png", lambda: plot_eigenvalue_spectra(an)),
                                    ("phase_portraits.png", lambda: plot_phase_portraits(an))])


# --------------------------------------------------------------------------- recording runs


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
    from .analysis.pca import fit_pca, project

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
