"""Context-dependent integration (Mante et al. 2013) with the context given by the biases alone.

    python analyses/context_integration/run.py analyses/context_integration/config.toml --out OUT

One fixed random rate network per seed gets two noisy evidence streams (motion and colour
coherence, ``brainbias.data.targets.context_integration``) and NO context input: the two
contexts are two tonic bias sets (``mode = "bias"``, ``run_mode = "driven"``). The output must
be the sign of the relevant stream's (leaky) integrated evidence. For every seed and context:

* **psychometric curves**: test trials (``context_integration_trials``: every pair of
  coherences, fresh noise) from the context's zero-input steady state; the choice is the sign of
  the output at the end of the stimulus; P(choice = +1) against the motion and against the
  colour coherence;
* **slow points** of the autonomous network (zero input) from the end-of-stimulus states
  (``brainbias.analysis.fixed_points.find_fixed_points``, Adam only: a line attractor is a line
  of slow points), and the true **fixed point** the steady state sits at (Newton-polished);
* **selection** at the fixed point (``brainbias.analysis.linearisation.linearise``): the slowest
  mode's right eigenvector (the integration axis), its left eigenvector (the selection vector,
  scaled so that ``l·r = 1``) and the gain of each input onto the axis, ``l · ∂x/∂u_k`` (how far
  one unit of input k moves the state along the axis per step), beside the naive projection
  ``r · ∂x/∂u_k``;
* the slow points, axes and input directions in the PCA basis of both contexts' trial states
  (``brainbias.analysis.pca``).

Writes ``OUT/results.jsonl`` (one line per seed), ``OUT/table.md``, ``OUT/fits.npz`` (biases,
initial states, curves) and ``OUT/context_integration.png``. Only the public API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import brainbias as bb
from brainbias.analysis.fixed_points import find_fixed_points
from brainbias.analysis.linearisation import linearise
from brainbias.analysis.pca import fit_pca, project
from brainbias.data.targets import context_integration, context_integration_trials
from brainbias.data.targets.context_integration import CONTEXTS
from brainbias.models.base import output

# Mante et al. (2013), Fig. 2 / 5: the relevant stream moves the choice from ~0 to ~1 over the
# coherence range, the irrelevant one barely at all; the network integrates along a line
# attractor whose selection vector, not its input projection, changes with the context.
PAPER = {"relevant": "steep (choice 0 → 1 over the coherences)", "irrelevant": "flat",
         "dynamics": "a line attractor (line of slow points) per context"}


def make_targets(task: dict):
    """The two contexts' trajectories: the same inputs (same seed), different outputs."""
    return [context_integration(context=c, **task) for c in CONTEXTS]


def make_net(study: dict, seed: int):
    n = study["network"]
    return bb.make_network(n["n_units"], n_inputs=2, n_outputs=1, dt=study["task"]["dt"],
                           tau=n["tau"], connectivity=bb.ConnectivityConfig(gain=n["gain"]),
                           input_scale=n["input_scale"], readout_scale=n["readout_scale"],
                           key=jax.random.PRNGKey(seed), dtype=jnp.float32)


def fit_seed(study: dict, seed: int, targets):
    """Bias-only fit of both contexts on one network: (TrainResult, seconds)."""
    net = make_net(study, seed)
    ctrl = bb.make_controller(net, [t.name for t in targets], mode="bias",
                              bias_scale=study["training"].get("bias_init_scale", 0.1),
                              key=jax.random.PRNGKey(1000 + seed))
    tr = {k: v for k, v in study["training"].items() if k != "bias_init_scale"}
    cfg = bb.TrainingConfig(mode="bias", run_mode="driven", test_fraction=0.0,
                            checkpoint_every=0, chunk_size=min(100, tr["n_iterations"]), **tr)
    t0 = time.perf_counter()
    result = bb.fit(net, ctrl, targets, cfg, key=jax.random.PRNGKey(2000 + seed), progress=False)
    return result, time.perf_counter() - t0


def _f64(tree):
    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), tree)


@jax.jit
def _driven(network, bias, x0, inputs):
    return bb.simulate(network, bias, x0, mode="driven", inputs=inputs)


_driven_trials = jax.jit(jax.vmap(_driven, in_axes=(None, None, None, 0)))


def steady_state(network, bias, x0, n_steps: int):
    """The state after ``n_steps`` of zero input from ``x0`` (a long inter-trial gap)."""
    u = jnp.zeros((n_steps, network.n_inputs), network.recurrent_weights.dtype)
    return _driven(network, bias, x0, u)[0][-1]


def run_trials(network, bias, x0, inputs):
    """States (trial, time, unit) and outputs (trial, time) of trials from ``x0``."""
    states, y = _driven_trials(network, bias, x0,
                               jnp.asarray(inputs, network.recurrent_weights.dtype))
    return states, y[..., 0]


def psychometric(choice, coherence, levels):
    """P(choice = +1) at each coherence level (choice: bool per trial)."""
    return np.array([np.mean(choice[coherence == c]) for c in levels])


def input_jacobian(network, bias, x):
    """``∂x_{t+1}/∂u_t`` (unit, input) at state ``x``, zero input: how one step of input moves
    the state (``a B`` for the continuous form), from JAX, for any family."""
    def step(u):
        states, _ = bb.simulate(network, bias, x, mode="driven", inputs=u[None])
        return states[0]

    return jax.jacfwd(step)(jnp.zeros(network.n_inputs, x.dtype))


def selection(network, bias, point, *, slow_tolerance):
    """Linearisation at ``point`` (unit,): the slowest mode's eigenvalue, integration axis r
    (unit norm), selection vector l (``l·r = 1``) and each input's gain onto the axis."""
    lin = linearise(bb.autonomous_map(network, bias), np.asarray(point)[None],
                    dt=float(network.dt), slow_tolerance=slow_tolerance)
    k = int(lin.slowest_mode[0])
    lam = complex(lin.eigenvalue_real[0, k], lin.eigenvalue_imag[0, k])
    r = lin.right_eigenvector_real.values[0, :, k]
    left = lin.left_eigenvector_real.values[0, :, k]
    # orient the axis towards choice +1: the output's derivative along r
    _, dy = jax.jvp(lambda z: output(network, z)[0], (jnp.asarray(point),), (jnp.asarray(r),))
    sign = 1.0 if float(dy) >= 0 else -1.0
    r, left = sign * r, sign * left
    b = np.asarray(input_jacobian(network, bias, jnp.asarray(point)))
    return {"eigenvalue": lam, "axis": r, "selection_vector": left,
            "gain": left @ b, "projection": r @ b, "line_attractor": bool(lin.line_attractor[0]),
            "slow_dimension": int(lin.slow_dimension[0]), "input_directions": b}


def slow_points(network, bias, starts, settings: dict, key):
    """Slow points of the zero-input map from ``starts`` (Adam only: no Newton polish, so
    points on a slow line stay on it instead of being pulled to its fixed point)."""
    with warnings.catch_warnings():  # Adam alone never reaches q < 1e-12: expected here
        warnings.filterwarnings("ignore", message="find_fixed_points: no start converged")
        fps = find_fixed_points(bb.autonomous_map(network, bias), np.asarray(starts), key=key,
                                newton_iterations=0, n_iterations=settings["n_iterations"],
                                learning_rate=settings["learning_rate"],
                                unique_tolerance=settings["unique_tolerance"],
                                q_tolerance=1e-12, dt=float(network.dt))
    keep = fps.speed.values < settings["speed_threshold"]
    return fps.state.values[keep], fps.speed.values[keep]


def fixed_point(network, bias, x_ss, key):
    """The fixed point the zero-input steady state sits at (Adam + Newton from it)."""
    fps = find_fixed_points(bb.autonomous_map(network, bias), np.asarray(x_ss)[None], key=key,
                            n_iterations=0, dt=float(network.dt))
    return fps.state.values[0], float(fps.speed.values[0])


def analyse_context(network, bias, x0, trials, s: dict, key):
    """Everything measured in one context of one fitted network (float64)."""
    x_ss = steady_state(network, bias, x0, s["settle_steps"])
    states, y = run_trials(network, bias, x_ss, trials["inputs"])
    choice = np.asarray(y[:, -1]) > 0
    levels = np.unique(trials["motion"])
    fp, q_fp = fixed_point(network, bias, x_ss, key)
    sel = selection(network, bias, fp, slow_tolerance=s["slow_tolerance"])
    ends = np.asarray(states[:, -1])
    pick = np.random.default_rng(0).choice(len(ends), min(s["n_slow_starts"], len(ends)),
                                           replace=False)
    pts, q = slow_points(network, bias, ends[pick], s, jax.random.fold_in(key, 1))
    return {"motion_curve": psychometric(choice, trials["motion"], levels),
            "colour_curve": psychometric(choice, trials["colour"], levels), "levels": levels,
            "choice": choice, "states": np.asarray(states), "steady_state": np.asarray(x_ss),
            "fixed_point": fp, "fixed_point_speed": q_fp, "slow_points": pts,
            "slow_speeds": q, **sel}


def line_shape(points, axis):
    """Of a cloud of slow points (point, unit): the variance fraction along its first
    principal direction and |cos| of that direction with ``axis`` (1, 1 for points on a line
    along the axis)."""
    if len(points) < 3:
        return float("nan"), float("nan")
    pca = fit_pca(points, n_components=1)
    first = pca.components.values[0]
    return (float(pca.explained_variance_ratio.values[0]),
            float(abs(first @ axis) / np.linalg.norm(axis)))


def _cos(a, b):
    return float(abs(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def analyse_seed(study, seed, result):
    """One seed's row (JSON-able numbers) and its per-context arrays."""
    s, task = study["analysis"], study["task"]
    trials = context_integration_trials(
        n_trials=s["n_trials"], coherences=task["coherences"],
        stimulus_steps=task["stimulus_steps"], integration_steps=task["integration_steps"],
        noise=task["noise"], seed=10_000 + seed)
    net, ctrl = _f64(result.network), _f64(result.controller)
    per = {}
    for c, name in enumerate(CONTEXTS):
        per[name] = analyse_context(net, ctrl.bias[c], ctrl.initial_state[c], trials, s,
                                    jax.random.PRNGKey(3000 + 10 * seed + c))
    row = {"seed": seed, "n_units": int(net.n_units), "final_loss": result.loss[-1].tolist()}
    for name, a in per.items():
        other = "colour" if name == "motion" else "motion"
        rel, irr = a[f"{name}_curve"], a[f"{other}_curve"]
        ideal = trials["evidence"][:, -1, CONTEXTS[name]] > 0
        frac, align = line_shape(a["slow_points"], a["axis"])
        row[name] = {
            "relevant_range": float(rel[-1] - rel[0]),
            "irrelevant_range": float(irr[-1] - irr[0]),
            "accuracy": float(np.mean(a["choice"] == ideal)),
            "relevant_curve": rel.tolist(), "irrelevant_curve": irr.tolist(),
            "ideal_curve": psychometric(ideal, trials[name], a["levels"]).tolist(),
            "slowest_eigenvalue": [a["eigenvalue"].real, a["eigenvalue"].imag],
            "time_constant_steps": float(-1.0 / np.log(abs(a["eigenvalue"]))),
            "line_attractor": a["line_attractor"], "slow_dimension": a["slow_dimension"],
            "fixed_point_speed": a["fixed_point_speed"], "n_slow_points": len(a["slow_speeds"]),
            "slow_points_first_pc_fraction": frac, "slow_points_axis_alignment": align,
            "gain_motion": float(a["gain"][0]), "gain_colour": float(a["gain"][1]),
            "projection_motion": float(a["projection"][0]),
            "projection_colour": float(a["projection"][1])}
    row["axis_cos_between_contexts"] = _cos(per["motion"]["axis"], per["colour"]["axis"])
    row["selection_cos_between_contexts"] = _cos(per["motion"]["selection_vector"],
                                                 per["colour"]["selection_vector"])
    row["levels"] = per["motion"]["levels"].tolist()
    return row, per


def _mean_sd(values):
    v = np.asarray(values, float)
    return v.mean(0), (v.std(0, ddof=1) if len(v) > 1 else np.zeros_like(v.mean(0)))


def _psychometric_panel(ax, rows, name):
    levels = np.asarray(rows[0]["levels"])
    other = "colour" if name == "motion" else "motion"
    for key, label, style in (("relevant_curve", f"vs {name} coherence (relevant)", "C0o-"),
                              ("irrelevant_curve", f"vs {other} coherence (irrelevant)", "C1s--"),
                              ("ideal_curve", "ideal observer, relevant", "k:")):
        m, sd = _mean_sd([r[name][key] for r in rows])
        ax.errorbar(levels, m, yerr=sd, fmt=style, capsize=3, label=label, ms=4)
    ax.set(xlabel="coherence (input units)", ylabel="P(choice = +1)", ylim=(-0.03, 1.03),
           title=f"context '{name}' (bias set {CONTEXTS[name]}), {len(rows)} seeds ± s.d.")
    ax.legend(fontsize=7, loc="upper left")


def _gain_panel(ax, rows):
    width = 0.2
    for i, (key, label) in enumerate((("gain", "selection vector l · ∂x/∂u"),
                                      ("projection", "axis r · ∂x/∂u"))):
        for j, inp in enumerate(("motion", "colour")):
            vals = [[abs(r[ctx][f"{key}_{inp}"]) for ctx in CONTEXTS] for r in rows]
            m, sd = _mean_sd(vals)
            pos = np.arange(2) + (2 * i + j - 1.5) * width
            ax.bar(pos, m, width, yerr=sd, capsize=3, color=f"C{j}",
                   alpha=1.0 if i == 0 else 0.45, hatch=None if i == 0 else "//",
                   label=f"{inp} input, {label}")
            for c_i in range(2):                       # every seed as a dot
                ax.plot(np.full(len(vals), pos[c_i]), [v[c_i] for v in vals], "k.", ms=4)
    ax.set_xticks(np.arange(2), [f"context '{c}'" for c in CONTEXTS])
    ax.set(ylabel="|gain onto the integration axis|\n(state units per input unit per step)",
           title=f"selection at the fixed point, {len(rows)} seeds ± s.d.")
    ax.legend(fontsize=7)


def _pca_panels(ax_points, ax_vectors, per):
    states = np.concatenate([a["states"][:, ::5].reshape(-1, a["states"].shape[-1])
                             for a in per.values()])
    pca = fit_pca(states, n_components=3)
    comp = pca.components.values
    for i, (name, a) in enumerate(per.items()):
        p = project(pca, a["slow_points"]) if len(a["slow_points"]) else np.zeros((0, 3))
        sc = ax_points.scatter(p[:, 0], p[:, 1], c=np.log10(a["slow_speeds"]), s=10,
                               cmap="viridis", marker="o" if i == 0 else "^",
                               label=f"slow points, context '{name}'")
        f = project(pca, a["fixed_point"][None])[0]
        ax_points.plot(f[0], f[1], "*", color=f"C{i + 3}", ms=14, mec="k",
                       label=f"fixed point, context '{name}'")
        axis = comp @ a["axis"]
        ax_points.annotate("", xy=(f[0] + 3 * axis[0], f[1] + 3 * axis[1]), xytext=(f[0], f[1]),
                           arrowprops=dict(arrowstyle="->", color=f"C{i + 3}", lw=2))
        for vec, style, lab in ((a["axis"], "-", "integration axis r"),
                                (a["selection_vector"], "--", "selection vector l")):
            v = comp[:2] @ vec
            frac = np.linalg.norm(v) / np.linalg.norm(vec)
            v = v / np.linalg.norm(v)
            ax_vectors.plot([0, v[0]], [0, v[1]], style, color=f"C{i + 3}", lw=2,
                            label=f"{lab}, '{name}' ({100 * frac:.0f} % in plane)")
    for j, inp in enumerate(("motion", "colour")):
        b = list(per.values())[0]["input_directions"][:, j]
        v = comp[:2] @ b
        frac = np.linalg.norm(v) / np.linalg.norm(b)
        v = v / np.linalg.norm(v)
        ax_vectors.plot([0, v[0]], [0, v[1]], ":", color=f"C{j}", lw=2,
                        label=f"{inp} input ∂x/∂u ({100 * frac:.0f} % in plane)")
    ev = pca.explained_variance_ratio.values
    for ax in (ax_points, ax_vectors):
        ax.set(xlabel=f"PC1 ({100 * ev[0]:.0f} % var., state units)",
               ylabel=f"PC2 ({100 * ev[1]:.0f} % var., state units)")
    ax_points.figure.colorbar(sc, ax=ax_points, label="log10 speed q")
    ax_points.set_title("zero-input slow points (seed 0; arrow: integration axis)", fontsize=9)
    ax_points.legend(fontsize=6, loc="best")
    ax_vectors.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), aspect="equal")
    ax_vectors.set_title("directions in the shared PCA plane (seed 0; unit length, % of "
                         "norm in the plane)", fontsize=8)
    ax_vectors.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)


def figure(rows, per_seed0, path):
    """Psychometric curves per context, input gains onto the slow mode, and (first seed) the
    slow points and the axes in the shared PCA basis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 10.5))
    _psychometric_panel(axes[0, 0], rows, "motion")
    _psychometric_panel(axes[0, 1], rows, "colour")
    _gain_panel(axes[0, 2], rows)
    _pca_panels(axes[1, 0], axes[1, 1], per_seed0)
    ax = axes[1, 2]
    for i, (name, a) in enumerate(per_seed0.items()):
        if len(a["slow_points"]):
            along = (a["slow_points"] - a["fixed_point"]) @ a["axis"]
            ax.semilogy(along, a["slow_speeds"], "o^"[i], color=f"C{i + 3}", ms=4,
                        label=f"context '{name}'")
    ax.set(xlabel="position along the integration axis (state units from the fixed point)",
           ylabel="speed q = ½‖F(x) − x‖² (state units² per step²)",
           title="slow points along the line (seed 0)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


COLUMNS = (("relevant_range", "ΔP relevant", ".2f"), ("irrelevant_range", "ΔP irrelevant", ".2f"),
           ("accuracy", "agreement with ideal", ".3f"),
           ("time_constant_steps", "slow-mode τ (steps)", ".0f"),
           ("slow_points_first_pc_fraction", "slow pts: var. on PC1", ".2f"),
           ("slow_points_axis_alignment", "|cos(PC1, axis)|", ".2f"),
           ("gain_motion", "|gain| motion", ".3f"), ("gain_colour", "|gain| colour", ".3f"))


def table(rows) -> str:
    lines = ["| context | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|" + "---|" * (len(COLUMNS) + 1)]
    for name in CONTEXTS:
        cells = []
        for key, _, spec in COLUMNS:
            v = np.array([abs(r[name][key]) if key.startswith("gain") else r[name][key]
                          for r in rows], float)
            sd = v.std(ddof=1) if len(v) > 1 else 0.0
            cells.append(f"{np.nanmean(v):{spec}} ± {sd:{spec}}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ax = np.array([r["axis_cos_between_contexts"] for r in rows])
    sel = np.array([r["selection_cos_between_contexts"] for r in rows])
    la = sum(r[c]["line_attractor"] for r in rows for c in CONTEXTS)
    lines += ["", f"{len(rows)} seeds (mean ± s.d.), N = {rows[0]['n_units']}. ΔP: P(+1) at the "
              f"largest minus at the smallest coherence. Between the contexts: |cos| of the "
              f"integration axes {ax.mean():.2f} ± {ax.std():.2f}, of the selection vectors "
              f"{sel.mean():.2f} ± {sel.std():.2f}; fixed points classified line attractors "
              f"(one slow mode, all others stable): {la} of {2 * len(rows)}."]
    return "\n".join(lines) + "\n"


def _saved_result(study, seed, saved):
    """A fitted (network, controller) rebuilt from fits.npz (bias-only: W is the seed's)."""
    import dataclasses
    import types

    net = make_net(study, seed)
    ctrl = bb.make_controller(net, [f"context_{c}" for c in CONTEXTS], mode="bias",
                              key=jax.random.PRNGKey(0))
    ctrl = dataclasses.replace(ctrl, bias=jnp.asarray(saved[f"bias_{seed}"]),
                               initial_state=jnp.asarray(saved[f"initial_state_{seed}"]))
    return types.SimpleNamespace(network=net, controller=ctrl, loss=saved[f"loss_{seed}"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reuse-fits", action="store_true",
                    help="analyse the biases in OUT/fits.npz instead of fitting again")
    args = ap.parse_args(argv)
    jax.config.update("jax_enable_x64", True)  # the analysis runs in float64
    study = tomllib.loads(args.config.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    targets = make_targets(study["task"])
    saved = dict(np.load(args.out / "fits.npz")) if args.reuse_fits else {}
    rows, first, fits = [], None, {}
    for seed in study["study"]["seeds"]:
        if args.reuse_fits:
            result, wall = _saved_result(study, seed, saved), float(saved[f"wall_{seed}"])
        else:
            result, wall = fit_seed(study, seed, targets)
        row, per = analyse_seed(study, seed, result)
        row["train_time"] = wall
        rows.append(row)
        first = first or per
        fits.update({f"bias_{seed}": np.asarray(result.controller.bias),
                     f"initial_state_{seed}": np.asarray(result.controller.initial_state),
                     f"loss_{seed}": np.asarray(result.loss), f"wall_{seed}": wall})
        print(json.dumps({k: row[k] for k in ("seed", "train_time")}
                         | {c: {k: row[c][k] for k in ("relevant_range", "irrelevant_range",
                                                        "accuracy")} for c in CONTEXTS}),
              flush=True)
    np.savez(args.out / "fits.npz", **fits)
    (args.out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = table(rows)
    (args.out / "table.md").write_text(text)
    figure(rows, first, args.out / "context_integration.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
