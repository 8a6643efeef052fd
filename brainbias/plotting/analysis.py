"""Figures of an analysis (``brainbias analyze``): fixed points in PCA space, spectra, phase
portraits."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import _label_pcs, _plt, _write_figures


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
    figures = [("fixed_points_pca.png", lambda: plot_fixed_points_pca(an)),
               ("eigenvalues.png", lambda: plot_eigenvalue_spectra(an)),
               ("phase_portraits.png", lambda: plot_phase_portraits(an))]
    if "ltc_liquid_time_constant" in an:
        figures.append(("ltc_coefficients.png", lambda: plot_ltc_coefficients(an)))
    return _write_figures(out_dir, figures)


def plot_ltc_coefficients(an, *, max_units: int = 40):
    """LTC networks: the liquid time constants ``τ_i(v_t) = −1/A_i`` and the drive ``c(v_t)``
    along each context's free run (units sorted by their mean τ), one row per context."""
    plt = _plt()
    contexts = [str(c) for c in an["context"].values]
    fig, axes = plt.subplots(len(contexts), 2, figsize=(10, 2.6 * len(contexts) + 0.4),
                             squeeze=False)
    t = an["time"].values
    for row, c in zip(axes, contexts, strict=True):
        tau = an["ltc_liquid_time_constant"].sel(context=c).values
        drive = an["ltc_drive"].sel(context=c).values
        ok = np.all(np.isfinite(tau), axis=1)
        order = np.argsort(np.nanmean(tau, axis=0))
        pick = order[np.linspace(0, len(order) - 1, min(max_units, len(order))).astype(int)]
        im = row[0].imshow(tau[ok][:, pick].T, aspect="auto", origin="lower", cmap="viridis",
                           extent=(t[ok][0], t[ok][-1], 0, len(pick)))
        fig.colorbar(im, ax=row[0], label="τ_i(v)")
        row[0].set_ylabel(f"{c}\nunit (sorted)")
        for i in pick[:: max(1, len(pick) // 6)]:
            row[1].plot(t[ok], drive[ok, i], lw=0.8)
        row[1].set_ylabel("c_i(v)")
    axes[0, 0].set_title("liquid time constants −1/A(v,u)", fontsize=9)
    axes[0, 1].set_title("drive c(v,u), a few units", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("time")
    fig.tight_layout()
    return fig
