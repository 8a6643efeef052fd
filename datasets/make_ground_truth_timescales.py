"""Make ``datasets/ground_truth_timescales.nwb``: a teacher whose time constant is not the default.

The second ground-truth recording (issue 8, part 5). Its *teacher* is a brainbias rate network
(continuous form, tanh, 200 units) with **τ = 25 ms** — a quarter of ``NetworkConfig.tau``'s
default of 0.1 s — whose three conditions differ **only** by their tonic input and have one
attractor each, of three different kinds:

=================  ============  ============  =====================================================
condition          bias on A     bias on B     attractor
=================  ============  ============  =====================================================
limit_cycle        weak          strong        a stable limit cycle around an unstable focus
stable_focus       medium        strong        one stable focus: the trials ring and spiral in
stable_node        strong        weak          one stable node: a slow real mode, no ringing
=================  ============  ============  =====================================================

Recurrent weights: a weak random bulk (``make_network``, Gaussian, gain 0.5) plus two planted
low-rank structures. Population A (units 0–99) has a rotation of radius 1.5 at 0.6 rad in a
random 2-D plane: unstable (a limit cycle once tanh saturates) at weak input, a damped rotation
(a focus) at medium input, gone at strong input. Population B (units 100–199) has one
self-exciting direction with eigenvalue 0.97: a slow real mode (the node's) at weak input, fast
at strong input. The condition bias pattern is orthogonal to the planted modes, so that the
fixed points sit near their centre.

Trials: 0.3 s of a common *baseline* input (strong on both populations, with a push of
``ROTATION_KICK`` along the first rotation mode and ``SLOW_KICK`` along the slow mode; its
stable fixed point, plus N(0, 0.05²) jitter, starts every trial), then the condition's bias
from ``stimulus_onset`` for 1.5 s. The push is what makes the dynamics visible: at onset the
state is away from the condition's attractor along exactly the modes that ring (focus) or decay
slowly (node).
Neurons and spikes as in ``make_ground_truth.py`` (its helpers are imported, not copied):
``rate = base · softplus(gain · z + 1) / softplus(1)`` with ``z`` the standardised readout
``C tanh(x)``; inhomogeneous Poisson spikes on 1 ms steps.

The teacher's truth per condition is computed here from the equations (Newton + Jacobian
eigenvalues for fixed points; for the cycle, the period from Poincaré crossings of a long run
and the Floquet multipliers of the Euler map over one period) and written to the teacher file:

``condition_kind``         ``stable_focus``, ``limit_cycle`` or ``stable_node``
``condition_period``       s, the limit cycle's period (NaN for fixed points)
``condition_frequency``    Hz: the focus's ``|Im λ| / 2π`` or the cycle's ``1 / period`` (NaN: node)
``condition_decay_rate``   1/s: ``−Re λ`` of the slowest mode at a fixed point; for the cycle the
                           slowest transverse Floquet exponent ``−ln |μ₂| / period``

with ``λ = log(μ) / dt`` the rates of the Euler map's eigenvalues ``μ`` (what the data follow;
the convention of :func:`brainbias.analysis.census.census`).

Outputs (``--out-dir``, default: this folder): ``ground_truth_timescales.nwb`` (NWB 2, units and
trials tables as in ``ground_truth.nwb``; read it with ``read_recording(path,
trial_key="trials", align_event="stimulus_onset")``) and ``ground_truth_timescales_teacher.npz``
(no pickles). Deterministic from ``SEED``; 15–40 s on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

_HERE = pathlib.Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import make_ground_truth as base  # noqa: E402  (sets single-threaded BLAS before numpy)
import numpy as np  # noqa: E402

SEED = 8
N_UNITS = 200
N_NEURONS = 80
CONDITIONS = ("limit_cycle", "stable_focus", "stable_node")
KINDS = {"limit_cycle": "limit_cycle", "stable_focus": "stable_focus",
         "stable_node": "stable_node"}
WEAK, MEDIUM, STRONG = 0.1, 0.6, 2.0
# (bias scale on population A, bias scale on population B) per condition
BIAS_SCALES = {
    "limit_cycle": (WEAK, STRONG),
    "stable_focus": (MEDIUM, STRONG),
    "stable_node": (STRONG, WEAK),
}
BASELINE_BIAS_SCALES = (STRONG, STRONG)
ROTATION_KICK = 8.0  # baseline input along the first rotation mode
SLOW_KICK = 4.0  # baseline input along the slow mode
N_TRIALS_PER_CONDITION = 40
DT = base.DT  # 1 ms: simulation step and spike-generation resolution (base.poisson_spikes uses it)
TAU = 0.025  # s
BASELINE_DURATION = 0.3  # s
RESPONSE_DURATION = 1.5  # s
INTER_TRIAL_INTERVAL = 0.3  # s
BULK_GAIN = 0.5
ROTATION_RADIUS = 1.5
ROTATION_ANGLE = 0.6  # rad
SLOW_EIGENVALUE = 0.97
INITIAL_JITTER = 0.05
BASE_RATE_RANGE = (8.0, 30.0)  # Hz
GAIN_RANGE = (0.8, 1.6)
PSTH_BIN = 0.01  # s
SETTLE = 8.0  # s of simulation before an attractor is measured (≥ 40 slowest decay times)


# --------------------------------------------------------------------------- teacher


def build_teacher(seed: int = SEED) -> dict:
    """Weights, biases and readout of the teacher (float64 arrays, float32-exact)."""
    import jax

    from brainbias import ConnectivityConfig, make_network

    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        net = make_network(N_UNITS, n_outputs=N_NEURONS,
                           connectivity=ConnectivityConfig(gain=BULK_GAIN), dt=DT, tau=TAU,
                           key=jax.random.PRNGKey(seed), dtype=np.float64)
        bulk = np.asarray(net.recurrent_weights)
        readout = np.asarray(net.readout_weights)
    half = N_UNITS // 2
    pop_a, pop_b = np.arange(half), np.arange(half, N_UNITS)
    plane, _ = np.linalg.qr(rng.normal(size=(half, 2)))
    rotation_modes = np.zeros((2, N_UNITS))
    rotation_modes[:, pop_a] = plane.T
    slow_mode = np.zeros(N_UNITS)
    v = rng.normal(size=half)
    slow_mode[pop_b] = v / np.linalg.norm(v)
    c, s = np.cos(ROTATION_ANGLE), np.sin(ROTATION_ANGLE)
    # the slow mode neither sends to nor receives from the bulk: otherwise the bulk's input
    # pushes the node's fixed point along it, tanh saturates there and the mode is no longer slow
    keep = np.eye(N_UNITS) - np.outer(slow_mode, slow_mode)
    bulk = keep @ bulk @ keep
    low_rank = rotation_modes.T @ (ROTATION_RADIUS * np.array([[c, -s], [s, c]])) @ rotation_modes
    low_rank += SLOW_EIGENVALUE * np.outer(slow_mode, slow_mode)
    modes = np.vstack([rotation_modes, slow_mode]).T  # (unit, 3), orthonormal columns

    def pattern():
        p = rng.normal(size=N_UNITS)
        return p - modes @ (modes.T @ p)  # orthogonal to the planted modes

    cond_pattern, base_pattern = pattern(), pattern()

    def scaled(p, scales):
        out = p.copy()
        out[pop_a] *= scales[0]
        out[pop_b] *= scales[1]
        return out

    kick = ROTATION_KICK * rotation_modes[0] + SLOW_KICK * slow_mode
    f32 = lambda a: np.asarray(a, np.float32).astype(np.float64)  # noqa: E731
    return {
        "recurrent_weights": f32(bulk + low_rank),
        "readout_weights": f32(readout),
        "condition_bias": f32(np.stack([scaled(cond_pattern, BIAS_SCALES[c])
                                        for c in CONDITIONS])),
        "baseline_bias": f32(scaled(base_pattern, BASELINE_BIAS_SCALES) + kick),
        "rotation_modes": rotation_modes,
        "slow_mode": slow_mode,
        "neuron_base_rate": f32(rng.uniform(*BASE_RATE_RANGE, N_NEURONS)),
        "neuron_gain": f32(rng.uniform(*GAIN_RANGE, N_NEURONS)),
        "rng_state": rng,
    }


def teacher_network(recurrent_weights, readout_weights, *, dt=DT, tau=TAU):
    """The teacher as a brainbias Network (readout = the neurons' projection)."""
    import jax.numpy as jnp

    from brainbias import Network

    w = jnp.asarray(recurrent_weights, jnp.float64)
    c = jnp.asarray(readout_weights, jnp.float64)
    n = w.shape[0]
    return Network(recurrent_weights=w, input_weights=jnp.zeros((n, 0)),
                   feedback_weights=jnp.zeros((n, c.shape[0])), readout_weights=c, dt=dt,
                   tau=tau).validate()


def run_states(network, bias, initial_states, n_steps):
    """States ``x_1 … x_T`` from each initial state, shape (start, time, unit)."""
    import jax
    import jax.numpy as jnp

    from brainbias import simulate

    with jax.enable_x64(True):
        one = lambda x0: simulate(network, jnp.asarray(bias), x0, n_steps=n_steps)[0]  # noqa: E731
        return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(initial_states)))


# --------------------------------------------------------------------------- truth


def fixed_point_truth(w, bias, x):
    """Newton from ``x``; the kind and time scales of the fixed point found there.

    Returns ``(state, kind, frequency (Hz), decay_rate (1/s), eigenvalues (1/s))``. The
    eigenvalues are those of the Euler map the data were simulated with, ``μ = 1 + dt λ`` with
    ``λ`` of the continuous-time Jacobian ``(−I + W diag(φ'(x))) / τ``, as rates
    ``log(μ) / dt`` (the convention of :func:`brainbias.analysis.census.census`; they differ
    from ``λ`` by about ``dt ω² / 2``, 0.3 /s for the focus). The slowest mode (largest
    ``|μ|``) decides between node (real) and focus (complex).
    """
    x, residual = base.newton(w, bias, x, tol=1e-11)
    if residual > 1e-9:
        raise RuntimeError(f"Newton did not converge (residual {residual:.1e})")
    jac = (-np.eye(len(x)) + w * (1.0 - np.tanh(x) ** 2)[None, :]) / TAU
    ev = np.log((1.0 + DT * np.linalg.eigvals(jac)).astype(complex)) / DT
    ev = ev[np.argsort(-ev.real)]
    lead = ev[0]
    if lead.real >= 0:
        return x, "unstable", np.nan, np.nan, ev
    if abs(lead.imag) > 1e-9:
        return x, "stable_focus", abs(lead.imag) / (2 * np.pi), -lead.real, ev
    return x, "stable_node", np.nan, -lead.real, ev


def cycle_truth(network, bias, x_on_cycle, direction):
    """Period (s) and Floquet multipliers of the Euler map's cycle through ``x_on_cycle``.

    The period comes from upward crossings of the hyperplane through the orbit's mean normal to
    ``direction``, interpolated linearly, averaged over 2 s; the multipliers are the eigenvalues
    of the product of the step Jacobians over the nearest whole number of steps of one period.
    """
    import jax
    import jax.numpy as jnp

    from brainbias.models import autonomous_map

    xs = run_states(network, bias, x_on_cycle[None], round(2.0 / DT))[0]
    p = (xs - xs.mean(0)) @ direction
    k = np.nonzero((p[:-1] < 0) & (p[1:] >= 0))[0]
    crossings = k + p[k] / (p[k] - p[k + 1])  # fractional step of each crossing
    period = float(np.mean(np.diff(crossings)) * DT)
    n_period = round(period / DT)
    step = autonomous_map(network, jnp.asarray(bias))
    with jax.enable_x64(True):
        def body(carry, _):
            x, m = carry
            return (step(x), jax.jacfwd(step)(x) @ m), None

        x0 = jnp.asarray(xs[k[-1] + 1])
        (_, monodromy), _ = jax.lax.scan(body, (x0, jnp.eye(len(x0))), None, length=n_period)
    mu = np.linalg.eigvals(np.asarray(monodromy))
    mu = mu[np.argsort(-np.abs(mu))]
    return period, mu


def condition_truth(teacher, c, end_states, rng):
    """Kind, period, frequency and decay rate of condition ``c``'s attractor (see module doc).

    The attractor is where the trials' end states go; 8 random starts are run as well and must
    end on the same attractor (the condition has one attractor).
    """
    w, bias = teacher["recurrent_weights"], teacher["condition_bias"][c]
    net = teacher_network(w, teacher["readout_weights"])
    starts = np.concatenate([end_states, rng.normal(0.0, 1.5, (8, N_UNITS))])
    ends = run_states(net, bias, starts, round(SETTLE / DT))[:, -round(1.0 / DT):]
    moving = np.ptp(ends, axis=1).max(axis=1)  # per start: largest range over the last 1 s
    out = {"n_starts": len(starts)}
    if np.all(moving < 1e-6):
        fp, kind, freq, decay, ev = fixed_point_truth(w, bias, ends[0, -1])
        spread = max(np.linalg.norm(e[-1] - fp) for e in ends)
        if spread > 1e-6:
            raise RuntimeError(f"{CONDITIONS[c]}: the starts end on different fixed points")
        out.update(kind=kind, period=np.nan, frequency=freq, decay_rate=decay, state=fp,
                   eigenvalues=ev[:6], spread=spread)
        return out
    if not np.all(moving > 1e-3):
        raise RuntimeError(f"{CONDITIONS[c]}: some starts settle and some do not")
    period, mu = cycle_truth(net, bias, ends[0, -1], teacher["rotation_modes"][0])
    # mu[0] ≈ 1 is the flow direction; the next one sets the transverse decay
    decay = -np.log(np.abs(mu[1])) / period
    # every start ends on the first one's orbit: distance of its end to the nearest orbit point
    spread = max(np.linalg.norm(ends[0] - e[-1], axis=1).min() for e in ends)
    out.update(kind="limit_cycle", period=period, frequency=1.0 / period, decay_rate=decay,
               state=ends[0, -1], eigenvalues=mu[:6].astype(complex), spread=spread)
    return out


# --------------------------------------------------------------------------- data


def simulate_trials(teacher, trial_condition, initial_states):
    """States at the start of every 1 ms step, shape (trial, time, unit), from −0.3 s."""
    n_base, n_resp = round(BASELINE_DURATION / DT), round(RESPONSE_DURATION / DT)
    net = teacher_network(teacher["recurrent_weights"], teacher["readout_weights"])
    baseline = run_states(net, teacher["baseline_bias"], initial_states, n_base)
    out = np.empty((len(trial_condition), n_base + n_resp, N_UNITS))
    out[:, 0] = initial_states
    out[:, 1:n_base + 1] = baseline
    for c in range(len(CONDITIONS)):
        rows = np.nonzero(trial_condition == c)[0]
        resp = run_states(net, teacher["condition_bias"][c], baseline[rows, -1], n_resp - 1)
        out[rows, n_base + 1:] = resp
    return out


def make_spikes(rates, rng):
    """Spike times per neuron on one session clock, and the trials table."""
    trial_len = BASELINE_DURATION + RESPONSE_DURATION
    spikes = [[] for _ in range(N_NEURONS)]
    for i in range(rates.shape[0]):
        start = i * (trial_len + INTER_TRIAL_INTERVAL)
        for k, times in enumerate(base.poisson_spikes(rates[i], rng)):
            spikes[k].append(start + times)
    return [np.concatenate(s) for s in spikes]


def main(argv=None):
    import jax

    with jax.enable_x64(True):  # the teacher is simulated and analysed in float64
        _main(argv)


def _main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(_HERE))
    args = parser.parse_args(argv)
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    teacher = build_teacher(SEED)
    rng = teacher.pop("rng_state")
    w = teacher["recurrent_weights"]
    n_cond = len(CONDITIONS)
    net = teacher_network(w, teacher["readout_weights"])
    relaxed = run_states(net, teacher["baseline_bias"], np.zeros((1, N_UNITS)), 3000)[0, -1]
    x_base, base_kind, _, base_decay, _ = fixed_point_truth(w, teacher["baseline_bias"], relaxed)
    if base_kind not in ("stable_node", "stable_focus"):
        sys.exit("the baseline input has no stable fixed point; change the parameters")

    trial_condition = rng.permutation(np.repeat(np.arange(n_cond), N_TRIALS_PER_CONDITION))
    n_trials = len(trial_condition)
    initial_states = x_base + INITIAL_JITTER * rng.normal(size=(n_trials, N_UNITS))
    states = simulate_trials(teacher, trial_condition, initial_states)
    rates, offset, scale = base.neuron_rates(teacher, states)
    spikes = make_spikes(rates, rng)
    trial_len = BASELINE_DURATION + RESPONSE_DURATION
    starts = np.arange(n_trials) * (trial_len + INTER_TRIAL_INTERVAL)
    table = [(s, s + trial_len, CONDITIONS[c], s + BASELINE_DURATION)
             for s, c in zip(starts, trial_condition, strict=True)]
    session_end = n_trials * (trial_len + INTER_TRIAL_INTERVAL)

    per_bin = round(PSTH_BIN / DT)
    binned = rates.reshape(n_trials, -1, per_bin, N_NEURONS).mean(2)
    true_psth = np.stack([binned[trial_condition == c].mean(0) for c in range(n_cond)])
    psth_time = -BASELINE_DURATION + (np.arange(binned.shape[1]) + 0.5) * PSTH_BIN

    truth = []
    for c, name in enumerate(CONDITIONS):
        tr = condition_truth(teacher, c, states[trial_condition == c][:3, -1], rng)
        if tr["kind"] != KINDS[name]:
            sys.exit(f"{name}: the teacher's attractor is a {tr['kind']}, not a {KINDS[name]}; "
                     "change the parameters")
        truth.append(tr)

    description = (
        "Ground truth for brainbias issue 8 (time scales). Teacher: continuous-time tanh rate "
        f"network, {N_UNITS} units, tau={TAU} s, dt={DT} s; recurrent weights = Gaussian bulk "
        f"(gain {BULK_GAIN}) + rotation (radius {ROTATION_RADIUS}, angle {ROTATION_ANGLE} rad) "
        f"on units 0-99 + slow mode {SLOW_EIGENVALUE} on units 100-199. Conditions differ only "
        f"by tonic input: {json.dumps(BIAS_SCALES)}; one attractor each (limit cycle, stable "
        f"focus, stable node). {N_NEURONS} neurons = softplus of the standardised readout, "
        f"Poisson spikes. Teacher and its truth: ground_truth_timescales_teacher.npz. Seed {SEED}."
    )
    nwb_path = out_dir / "ground_truth_timescales.nwb"
    base.write_nwb(nwb_path, spikes, table, session_end, description,
                   identifier=f"brainbias-ground-truth-timescales-seed{SEED}",
                   notes={"seed": SEED, "conditions": list(CONDITIONS), "tau": TAU},
                   script=pathlib.Path(__file__).resolve())
    teacher_path = out_dir / "ground_truth_timescales_teacher.npz"
    np.savez_compressed(
        teacher_path,
        seed=np.int64(SEED), conditions=np.array(CONDITIONS),
        bias_scales=np.array([BIAS_SCALES[c] for c in CONDITIONS]),
        dt=np.float64(DT), tau=np.float64(TAU),
        baseline_duration=np.float64(BASELINE_DURATION),
        response_duration=np.float64(RESPONSE_DURATION),
        recurrent_weights=w.astype(np.float32),
        readout_weights=teacher["readout_weights"].astype(np.float32),
        condition_bias=teacher["condition_bias"].astype(np.float32),
        baseline_bias=teacher["baseline_bias"].astype(np.float32),
        rotation_modes=teacher["rotation_modes"], slow_mode=teacher["slow_mode"],
        neuron_base_rate=teacher["neuron_base_rate"].astype(np.float32),
        neuron_gain=teacher["neuron_gain"].astype(np.float32),
        neuron_offset=offset, neuron_scale=scale,
        baseline_fixed_point=x_base,
        trial_condition=trial_condition.astype(np.int64), trial_start_time=starts,
        trial_initial_state=initial_states,
        true_psth=true_psth.astype(np.float32), true_psth_time=psth_time,
        condition_kind=np.array([t["kind"] for t in truth]),
        condition_period=np.array([t["period"] for t in truth]),
        condition_frequency=np.array([t["frequency"] for t in truth]),
        condition_decay_rate=np.array([t["decay_rate"] for t in truth]),
        condition_attractor_state=np.stack([t["state"] for t in truth]),
        condition_leading_eigenvalues=np.stack([t["eigenvalues"] for t in truth]),
        spike_count=np.array([len(s) for s in spikes], dtype=np.int64),
        description=np.array(description),
    )
    _report(nwb_path, teacher_path, spikes, rates, n_trials, base_decay, truth)
    print(f"done in {time.perf_counter() - t0:.1f} s")


def _report(nwb_path, teacher_path, spikes, rates, n_trials, base_decay, truth):
    n_spikes = sum(len(s) for s in spikes)
    mean_rates = np.array([len(s) for s in spikes]) / (n_trials * (BASELINE_DURATION
                                                                   + RESPONSE_DURATION))
    print(f"wrote {nwb_path} ({nwb_path.stat().st_size / 1e6:.2f} MB) and {teacher_path.name} "
          f"({teacher_path.stat().st_size / 1e6:.2f} MB)")
    print(f"{N_NEURONS} neurons x {len(CONDITIONS)} conditions x {N_TRIALS_PER_CONDITION} trials;"
          f" {n_spikes} spikes; mean rate per neuron {mean_rates.min():.1f}-"
          f"{mean_rates.max():.1f} Hz (median {np.median(mean_rates):.1f}); true rates "
          f"{np.percentile(rates, 1):.1f}-{np.percentile(rates, 99):.1f} Hz (1st-99th pct), "
          f"peak {rates.max():.1f} Hz")
    print(f"baseline: stable fixed point, slowest decay {base_decay:.1f} /s")
    for name, t in zip(CONDITIONS, truth, strict=True):
        lead = ", ".join(f"{e.real:+.2f}{e.imag:+.2f}j" for e in t["eigenvalues"][:3])
        what = "Floquet multipliers" if t["kind"] == "limit_cycle" else "eigenvalues (1/s)"
        print(f"{name:13s} {t['kind']:13s} period {t['period']:.4f} s  frequency "
              f"{t['frequency']:.3f} Hz  decay rate {t['decay_rate']:.2f} /s  leading {what}: "
              f"{lead}  ({t['n_starts']} starts, largest distance between their ends "
              f"{t['spread']:.1e})")


if __name__ == "__main__":
    main()
