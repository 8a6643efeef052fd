"""What every figure module shares: the lazy matplotlib import and figure writing."""

from __future__ import annotations

from pathlib import Path


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


def _label_pcs(ax, explained, k):
    """Axis labels "PCi (variance explained)" for the first ``min(k, 3)`` components."""
    setters = (ax.set_xlabel, ax.set_ylabel, getattr(ax, "set_zlabel", None))
    for i in range(min(k, 3)):
        setters[i](f"PC{i + 1} ({explained[i]:.0%})")
