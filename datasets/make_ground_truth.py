"""Make ``datasets/ground_truth.nwb``: Poisson spikes from a known bias-controlled rate network.

The *teacher* is a brainbias rate network (continuous form, tanh, 200 units) whose conditions
differ **only** by their tonic input (one bias vector per condition). Its recurrent weights are a
weak random bulk (``make_network``, Gaussian, gain 0.6) plus two planted low-rank structures on
two halves of the units:

* population A (units 0–99): a rotation of radius 2.2 at 45° in a 2-D plane — an unstable
  focus at low input, i.e. a limit cycle once tanh saturates;
* population B (units 100–199): one self-exciting direction with eigenvalue 2.5 — two stable
  fixed points (bistability) at low input.

A strong tonic input to a population saturates its units and lowers the loop gain ``φ'``, which
removes that population's structure. The four conditions scale one fixed random bias pattern
per population (strong = 2.5, weak = 0.1), so the fixed-point structure changes with the bias:

=================  ============  ============  ==================================================
condition          bias on A     bias on B     intended structure
=================  ============  ============  ==================================================
limit_cycle        weak          strong        one unstable focus, one stable limit cycle
bistable           strong        weak          two stable fixed points and a saddle
fixed_point        strong        strong        one stable fixed point
bistable_cycles    weak          weak          two limit cycles (one per side of B) + 3 unstable
=================  ============  ============  ==================================================

What the structure *is* is checked numerically here (Newton from many starts, Jacobian
eigenvalues, long simulations from random starts, largest Lyapunov exponent) and written to the
teacher file and printed; ``datasets/README.md`` quotes the printout.

Each trial starts near the stable fixed point of a common *baseline* input (a second random
pattern, strong on both populations; 0.2 s, same in every condition; initial jitter sd 0.2),
then the condition's bias switches on at ``stimulus_onset`` for 1.0 s. 100 recorded
neurons read the network's fixed random readout ``y = C tanh(x)``: ``rate = base ·
softplus(gain · z + 1) / softplus(1)`` with ``z`` the readout standardised over the whole
noise-free data set, ``base`` 4–20 Hz, ``gain`` 0.8–1.6. Spikes are inhomogeneous Poisson
(piecewise-constant rate per 1 ms step, numpy Generator, times uniform within the step).

Outputs (``--out-dir``, default: this folder):

``ground_truth.nwb``
    NWB 2 file: a units table (one row per neuron, all spikes on one session clock, column
    ``_name`` so that Neo's NWBIO names the spike trains) and a trials table (``start_time``,
    ``stop_time``, ``condition``, ``stimulus_onset``). Read it with
    ``brainbias.data.recordings.read_recording(path, trial_key="trials",
    align_event="stimulus_onset")``.
``ground_truth_teacher.npz``
    Everything needed to rebuild and compare the teacher (no pickles): weights, biases, readout
    mapping, initial states, fixed points with their eigenvalues, attractor summary, true PSTHs.

Deterministic from ``SEED`` (same arrays and spikes on every run; the HDF5 bytes differ by NWB's
random object ids); runs in 10–25 s on a 2-core CPU.
"""

from __future__ import annotations

import os

# Single-threaded BLAS: the analysis below makes thousands of small (200 x 200) solves, for which
# OpenBLAS threads only add overhead — on a loaded 2-core machine they made it ~60x slower.
# Must be set before numpy is imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SEED = 4
N_UNITS = 200
N_NEURONS = 100
CONDITIONS = ("limit_cycle", "bistable", "fixed_point", "bistable_cycles")
# (bias scale on population A, bias scale on population B) per condition
STRONG, WEAK = 2.5, 0.1
BIAS_SCALES = {
    "limit_cycle": (WEAK, STRONG),
    "bistable": (STRONG, WEAK),
    "fixed_point": (STRONG, STRONG),
    "bistable_cycles": (WEAK, WEAK),
}
BASELINE_BIAS_SCALES = (STRONG, STRONG)
N_TRIALS_PER_CONDITION = 20
DT = 0.001  # s, simulation step and spike-generation resolution
TAU = 0.05  # s
BASELINE_DURATION = 0.2  # s before stimulus onset
RESPONSE_DURATION = 1.0  # s after stimulus onset
INTER_TRIAL_INTERVAL = 0.3  # s of silence between trials on the session clock
BULK_GAIN = 0.6
ROTATION_RADIUS = 2.2
ROTATION_ANGLE = np.pi / 4
BISTABLE_EIGENVALUE = 2.5
INITIAL_JITTER = 0.2  # std of the per-trial initial state around the baseline fixed point
BASE_RATE_RANGE = (4.0, 20.0)  # Hz
GAIN_RANGE = (0.8, 1.6)
PSTH_BIN = 0.01  # s, bin of the stored true PSTH
SESSION_START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)


# --------------------------------------------------------------------------- teacher


def _softplus(x):
    return np.logaddexp(0.0, x)


def build_teacher(seed: int = SEED) -> dict:
    """Weights, biases and readout mapping of the teacher (float64 arrays, float32-exact)."""
    import jax

    from brainbias import ConnectivityConfig, make_network

    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        net = make_network(
            N_UNITS,
            n_outputs=N_NEURONS,
            connectivity=ConnectivityConfig(gain=BULK_GAIN),
            dt=DT,
            tau=TAU,
            key=jax.random.PRNGKey(seed),
            dtype=np.float64,
        )
        bulk = np.asarray(net.recurrent_weights)
        readout = np.asarray(net.readout_weights)
    half = N_UNITS // 2
    pop_a, pop_b = np.arange(half), np.arange(half, N_UNITS)
    plane, _ = np.linalg.qr(rng.normal(size=(half, 2)))
    rotation_modes = np.zeros((2, N_UNITS))
    rotation_modes[:, pop_a] = plane.T
    bistable_mode = np.zeros(N_UNITS)
    v = rng.normal(size=half)
    bistable_mode[pop_b] = v / np.linalg.norm(v)
    c, s = np.cos(ROTATION_ANGLE), np.sin(ROTATION_ANGLE)
    rotation = ROTATION_RADIUS * np.array([[c, -s], [s, c]])
    low_rank = rotation_modes.T @ rotation @ rotation_modes
    low_rank += BISTABLE_EIGENVALUE * np.outer(bistable_mode, bistable_mode)
    pattern = rng.normal(size=N_UNITS)
    baseline_pattern = rng.normal(size=N_UNITS)

    def scaled(p, scales):
        out = p.copy()
        out[pop_a] *= scales[0]
        out[pop_b] *= scales[1]
        return out

    biases = np.stack([scaled(pattern, BIAS_SCALES[c]) for c in CONDITIONS])
    # Stored as float32 in the teacher file; simulate with exactly those values so that the
    # file rebuilds the teacher bit for bit.
    f32 = lambda a: np.asarray(a, np.float32).astype(np.float64)  # noqa: E731
    return {
        "recurrent_weights": f32(bulk + low_rank),
        "readout_weights": f32(readout),
        "condition_bias": f32(biases),
        "baseline_bias": f32(scaled(baseline_pattern, BASELINE_BIAS_SCALES)),
        "rotation_modes": rotation_modes,
        "bistable_mode": bistable_mode,
        "neuron_base_rate": f32(rng.uniform(*BASE_RATE_RANGE, N_NEURONS)),
        "neuron_gain": f32(rng.uniform(*GAIN_RANGE, N_NEURONS)),
        "rng_state": rng,
    }


def network_from(teacher):
    """The teacher as a brainbias Network (the readout is the neurons' projection)."""
    import jax.numpy as jnp

    from brainbias import Network

    w = teacher["recurrent_weights"]
    c = teacher["readout_weights"]
    return Network(
        recurrent_weights=jnp.asarray(w),
        input_weights=jnp.zeros((w.shape[0], 0)),
        feedback_weights=jnp.zeros((w.shape[0], c.shape[0])),
        readout_weights=jnp.asarray(c),
        dt=DT,
        tau=TAU,
        nonlinearity="tanh",
        form="continuous",
    ).validate()


def field(w, bias, x):
    """``τ dx/dt = −x + W tanh(x) + b`` (times τ), for (..., unit) states."""
    return -x + np.tanh(x) @ w.T + bias


def newton(w, bias, x, *, tol=1e-10, max_iter=40):
    """Damped Newton on ``−x + W tanh x + b = 0``; returns (x, residual norm)."""
    n = len(x)
    r = np.linalg.norm(field(w, bias, x))
    for _ in range(max_iter):
        if r < tol:
            break
        jac = -np.eye(n) + w * (1.0 - np.tanh(x) ** 2)[None, :]
        try:
            step = np.linalg.solve(jac, -field(w, bias, x))
        except np.linalg.LinAlgError:
            break
        # Backtracking keeps Newton from jumping between basins far from a root.
        for lam in (1.0, 0.5, 0.25, 0.125, 0.0625):
            cand = x + lam * step
            rc = np.linalg.norm(field(w, bias, cand))
            if rc < r:
                x, r = cand, rc
                break
        else:
            break
    return x, r


def jacobian_eigenvalues(w, x):
    """Eigenvalues of the continuous-time Jacobian ``(−I + W diag(φ'(x))) / τ`` (1/s)."""
    jac = (-np.eye(len(x)) + w * (1.0 - np.tanh(x) ** 2)[None, :]) / TAU
    return np.linalg.eigvals(jac)


def euler(w, bias, x, n_steps):
    """Euler-integrate states (..., unit) for ``n_steps``; return all of them (time, ..., unit)."""
    a = DT / TAU
    xs = np.empty((n_steps,) + x.shape)
    for k in range(n_steps):
        x = x + a * field(w, bias, x)
        xs[k] = x
    return xs


def largest_lyapunov(w, bias, x, *, n_steps=10000, renorm=10, seed=0):
    """Benettin estimate (1/s) along the trajectory from ``x`` after a transient."""
    a = DT / TAU
    n = len(x)
    for _ in range(3000):  # transient: 3 s
        x = x + a * field(w, bias, x)
    v = np.random.default_rng(seed).normal(size=n)
    v /= np.linalg.norm(v)
    total = 0.0
    for k in range(1, n_steps + 1):
        d = 1.0 - np.tanh(x) ** 2
        v = v + a * (-v + w @ (d * v))
        x = x + a * field(w, bias, x)
        if k % renorm == 0:
            norm = np.linalg.norm(v)
            total += np.log(norm)
            v /= norm
    return total / (n_steps * DT)


def classify_attractors(w, bias, starts):
    """Run each start 10 s and describe where it ends: fixed point or periodic orbit."""
    xs = euler(w, bias, starts, 10000)
    tail = xs[-3000:]  # last 3 s
    out = []
    for i in range(starts.shape[0]):
        tr = tail[:, i, :]
        speed = np.linalg.norm(field(w, bias, tr[-1])) / TAU
        spread = float(np.max(np.ptp(tr, axis=0)))
        if speed < 1e-6:
            out.append(("fixed_point", tr[-1], np.nan, spread))
            continue
        centred = tr - tr.mean(0)
        pc = np.linalg.svd(centred, full_matrices=False)[2][0]
        p = centred @ pc
        up = np.nonzero((p[:-1] < 0) & (p[1:] >= 0))[0]
        period = float(np.mean(np.diff(up)) * DT) if len(up) > 2 else np.nan
        out.append(("periodic", tr.mean(0), period, spread))
    return out


def analyse_condition(w, bias, trajectory_states, rng):
    """Fixed points (Newton from many starts) and attractors (long runs) of one condition."""
    n = w.shape[0]
    attr_starts = np.stack([trajectory_states[-1]] + [rng.normal(0.0, 1.5, n) for _ in range(8)])
    attractors = classify_attractors(w, bias, attr_starts)
    # Newton starts: where the long runs ended (stable fixed points; orbit means lie near the
    # unstable focus inside a cycle), states along the recorded trajectories, random states.
    starts = [a[1] for a in attractors]
    idx = rng.choice(len(trajectory_states), size=16, replace=False)
    starts += list(trajectory_states[idx])
    starts += [rng.normal(0.0, s, n) for s in (0.5, 1.5, 3.0) for _ in range(8)]
    found = []
    for x0 in starts:
        x, r = newton(w, bias, x0)
        if r < 1e-9 and not any(np.linalg.norm(x - y) < 1e-6 * (1 + np.linalg.norm(y))
                                for y in found):
            found.append(x)
    # Order: stable first, then by the position along the planted modes (deterministic).
    eig = [jacobian_eigenvalues(w, x) for x in found]
    max_re = np.array([e.real.max() for e in eig])
    n_unstable = np.array([int(np.sum(e.real > 0)) for e in eig])
    order = np.lexsort((np.round([float(np.sum(x)) for x in found], 6), max_re))
    found = [found[i] for i in order]
    max_re, n_unstable = max_re[order], n_unstable[order]
    lyap = largest_lyapunov(w, bias, trajectory_states[-1])
    return found, max_re, n_unstable, attractors, lyap


# --------------------------------------------------------------------------- data


def simulate_trials(teacher, trial_condition, initial_states):
    """Unit states for every trial, shape (trial, time, unit), 1 ms steps from −0.2 s."""
    import jax
    import jax.numpy as jnp

    from brainbias import simulate

    n_base = round(BASELINE_DURATION / DT)
    n_resp = round(RESPONSE_DURATION / DT)
    with jax.enable_x64(True):
        net = network_from(teacher)
        b0 = jnp.asarray(teacher["baseline_bias"])
        biases = jnp.asarray(teacher["condition_bias"])[jnp.asarray(trial_condition)]

        def one(x0, b):
            base, _ = simulate(net, b0, x0, n_steps=n_base)
            resp, _ = simulate(net, b, base[-1], n_steps=n_resp)
            # the state at the start of each 1 ms step: x0, x1, …, x_{T−1}
            return jnp.concatenate([x0[None], base, resp[:-1]])

        states = jax.jit(jax.vmap(one))(jnp.asarray(initial_states), biases)
        return np.asarray(states)


def neuron_rates(teacher, states, offset=None, scale=None):
    """Firing rates (Hz) of the recorded neurons, shape (..., time, neuron)."""
    y = np.tanh(states) @ teacher["readout_weights"].T
    if offset is None:
        offset = y.reshape(-1, y.shape[-1]).mean(0)
        scale = y.reshape(-1, y.shape[-1]).std(0)
    z = (y - offset) / scale
    g = teacher["neuron_gain"]
    rates = teacher["neuron_base_rate"] * _softplus(g * z + 1.0) / _softplus(1.0)
    return rates, offset, scale


def poisson_spikes(rates, rng):
    """Spike times (s from the step grid's start) per neuron, for rates (time, neuron)."""
    counts = rng.poisson(rates * DT)
    out = []
    for k in range(rates.shape[1]):
        steps = np.repeat(np.arange(rates.shape[0]), counts[:, k])
        out.append(np.sort((steps + rng.uniform(size=steps.size)) * DT))
    return out


def write_nwb(path, spikes_by_neuron, trial_table, session_end, description, *,
              identifier=None, notes=None, script=None):
    """Write the units and trials tables to an NWB file.

    ``identifier``, ``notes`` (a JSON-able dict) and ``script`` (the generating script's path)
    default to this script's; ``make_ground_truth_timescales.py`` passes its own.
    """
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile

    script = pathlib.Path(__file__) if script is None else pathlib.Path(script)
    nwb = NWBFile(
        session_description="brainbias ground truth: Poisson spikes from a bias-controlled "
        "rate network (see experiment_description)",
        identifier=identifier or f"brainbias-ground-truth-seed{SEED}",
        session_start_time=SESSION_START,
        file_create_date=[SESSION_START],
        experiment_description=description,
        source_script=script.read_text(),
        source_script_file_name=f"datasets/{script.name}",
        notes=json.dumps(notes if notes is not None
                         else {"seed": SEED, "conditions": list(CONDITIONS)}),
    )
    nwb.add_trial_column("condition", "condition label; conditions differ only by tonic input")
    nwb.add_trial_column("stimulus_onset", "time (s, session clock) the condition's bias starts")
    for start, stop, cond, onset in trial_table:
        nwb.add_trial(start_time=start, stop_time=stop, condition=cond, stimulus_onset=onset)
    # Neo's NWBIO names a SpikeTrain from the `_name` column (neo 0.14).
    nwb.add_unit_column("_name", "neuron name (read by Neo's NWBIO as SpikeTrain.name)")
    for k, times in enumerate(spikes_by_neuron):
        nwb.add_unit(spike_times=times, obs_intervals=[[0.0, session_end]],
                     _name=f"neuron{k:03d}")
    nwb.units.spike_times.set_data_io(
        H5DataIO, {"compression": "gzip", "compression_opts": 9, "shuffle": True}
    )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=str(pathlib.Path(__file__).resolve().parent))
    args = parser.parse_args(argv)
    out_dir = pathlib.Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    teacher = build_teacher(SEED)
    rng = teacher.pop("rng_state")
    w = teacher["recurrent_weights"]
    n_cond = len(CONDITIONS)

    # Baseline fixed point: every trial starts near it. Relax from 0 first (5 s), then polish:
    # Newton from 0 itself can stall between basins.
    x_relaxed = euler(w, teacher["baseline_bias"], np.zeros(N_UNITS), 5000)[-1]
    x_base, res = newton(w, teacher["baseline_bias"], x_relaxed)
    base_eig = jacobian_eigenvalues(w, x_base)
    if res > 1e-9 or base_eig.real.max() >= 0:
        sys.exit("baseline input has no stable fixed point near 0; change the parameters")

    trial_condition = rng.permutation(np.repeat(np.arange(n_cond), N_TRIALS_PER_CONDITION))
    n_trials = len(trial_condition)
    initial_states = x_base + INITIAL_JITTER * rng.normal(size=(n_trials, N_UNITS))
    states = simulate_trials(teacher, trial_condition, initial_states)
    rates, offset, scale = neuron_rates(teacher, states)

    # Spikes on one session clock.
    trial_len = BASELINE_DURATION + RESPONSE_DURATION
    spikes = [[] for _ in range(N_NEURONS)]
    table = []
    for i in range(n_trials):
        start = i * (trial_len + INTER_TRIAL_INTERVAL)
        for k, times in enumerate(poisson_spikes(rates[i], rng)):
            spikes[k].append(start + times)
        table.append((start, start + trial_len, CONDITIONS[trial_condition[i]],
                      start + BASELINE_DURATION))
    spikes = [np.concatenate(s) for s in spikes]
    session_end = n_trials * (trial_len + INTER_TRIAL_INTERVAL)

    # True PSTH per condition on PSTH_BIN bins from stimulus-relative −0.2 s.
    per_bin = round(PSTH_BIN / DT)
    binned = rates.reshape(n_trials, -1, per_bin, N_NEURONS).mean(2)
    true_psth = np.stack([binned[trial_condition == c].mean(0) for c in range(n_cond)])
    psth_time = -BASELINE_DURATION + (np.arange(binned.shape[1]) + 0.5) * PSTH_BIN

    # Fixed points and attractors per condition.
    fp_rows, lines = [], []
    n_base, attractor_kind, attractor_period, lyapunov = round(BASELINE_DURATION / DT), [], [], []
    trial_end_fp = []
    for c, name in enumerate(CONDITIONS):
        traj = states[trial_condition == c][:, n_base:].reshape(-1, N_UNITS)
        fps, max_re, n_unst, attractors, lyap = analyse_condition(
            w, teacher["condition_bias"][c], traj, rng
        )
        for x, m, u in zip(fps, max_re, n_unst, strict=True):
            fp_rows.append((c, x, m, u))
        kinds = [a[0] for a in attractors]
        periods = [a[2] for a in attractors if a[0] == "periodic"]
        distinct = _distinct_attractors(attractors)
        attractor_kind.append(f"{len(distinct)} x " + "/".join(sorted(set(kinds))))
        attractor_period.append(float(np.nanmean(periods)) if periods else np.nan)
        lyapunov.append(lyap)
        # Which attractor do the recorded trials approach? Their first long run started from a
        # trial's end state; for fixed points, count the nearest one to each trial's end.
        end_kind = attractors[0][0]
        if end_kind == "fixed_point":
            ends = states[trial_condition == c][:, -1]
            nearest = [int(np.argmin([np.linalg.norm(e - x) for x in fps])) for e in ends]
            counts = np.bincount(nearest, minlength=len(fps))
            end_kind += " " + "/".join(f"#{j}:{n}" for j, n in enumerate(counts) if n)
        trial_end_fp.append(end_kind)
        n_stable = int(np.sum(max_re < 0))
        lines.append(
            f"{name:16s} bias(A,B)={BIAS_SCALES[name]}  fixed points: {len(fps)} "
            f"({n_stable} stable; max Re λ [1/s]: "
            + ", ".join(f"{m:+.1f}" for m in max_re)
            + f"; unstable dims: {', '.join(str(u) for u in n_unst)})  "
            f"attractors from 9 starts: {len(distinct)} distinct "
            f"({', '.join(sorted(set(kinds)))}"
            + (f", period {np.nanmean(periods):.3f} s" if periods else "")
            + f")  trials end on: {end_kind}  largest Lyapunov exponent: {lyap:+.2f} /s"
        )

    description = (
        "Ground truth for brainbias issue 4. Teacher: continuous-time tanh rate network, "
        f"{N_UNITS} units, tau={TAU} s, dt={DT} s, recurrent weights = Gaussian bulk (gain "
        f"{BULK_GAIN}) + rotation (radius {ROTATION_RADIUS}, angle pi/4) on units 0-99 + "
        f"self-excitation {BISTABLE_EIGENVALUE} on units 100-199. Conditions differ only by "
        f"tonic input: {json.dumps(BIAS_SCALES)}. {N_NEURONS} neurons = softplus of the "
        "standardised readout, Poisson spikes. Teacher parameters: ground_truth_teacher.npz. "
        f"Seed {SEED}."
    )
    nwb_path = out_dir / "ground_truth.nwb"
    write_nwb(nwb_path, spikes, table, session_end, description)

    fp_condition = np.array([r[0] for r in fp_rows], dtype=np.int64)
    np.savez_compressed(
        out_dir / "ground_truth_teacher.npz",
        seed=np.int64(SEED),
        conditions=np.array(CONDITIONS),
        bias_scales=np.array([BIAS_SCALES[c] for c in CONDITIONS]),
        dt=np.float64(DT),
        tau=np.float64(TAU),
        baseline_duration=np.float64(BASELINE_DURATION),
        response_duration=np.float64(RESPONSE_DURATION),
        recurrent_weights=teacher["recurrent_weights"].astype(np.float32),
        readout_weights=teacher["readout_weights"].astype(np.float32),
        condition_bias=teacher["condition_bias"].astype(np.float32),
        baseline_bias=teacher["baseline_bias"].astype(np.float32),
        rotation_modes=teacher["rotation_modes"],
        bistable_mode=teacher["bistable_mode"],
        neuron_base_rate=teacher["neuron_base_rate"].astype(np.float32),
        neuron_gain=teacher["neuron_gain"].astype(np.float32),
        neuron_offset=offset,
        neuron_scale=scale,
        baseline_fixed_point=x_base,
        trial_condition=trial_condition.astype(np.int64),
        trial_start_time=np.array([r[0] for r in table]),
        trial_initial_state=initial_states,
        true_psth=true_psth.astype(np.float32),
        true_psth_time=psth_time,
        fixed_points=np.stack([r[1] for r in fp_rows]),
        fixed_point_condition=fp_condition,
        fixed_point_max_real_eigenvalue=np.array([r[2] for r in fp_rows]),
        fixed_point_unstable_dimensions=np.array([r[3] for r in fp_rows], dtype=np.int64),
        attractors=np.array(attractor_kind),
        attractor_period=np.array(attractor_period),
        trials_end_on=np.array(trial_end_fp),
        largest_lyapunov_exponent=np.array(lyapunov),
        spike_count=np.array([len(s) for s in spikes], dtype=np.int64),
        description=np.array(description),
    )

    n_spikes = sum(len(s) for s in spikes)
    mean_rates = np.array([len(s) for s in spikes]) / (n_trials * trial_len)
    print(f"wrote {nwb_path} ({nwb_path.stat().st_size / 1e6:.2f} MB) and "
          f"ground_truth_teacher.npz "
          f"({(out_dir / 'ground_truth_teacher.npz').stat().st_size / 1e6:.2f} MB)")
    print(f"{N_NEURONS} neurons x {n_cond} conditions x {N_TRIALS_PER_CONDITION} trials x "
          f"{trial_len:.1f} s; {n_spikes} spikes; mean rate per neuron "
          f"{mean_rates.min():.1f}-{mean_rates.max():.1f} Hz (median {np.median(mean_rates):.1f}),"
          f" peak true rate {rates.max():.1f} Hz, 1st-99th percentile of true rates "
          f"{np.percentile(rates, 1):.1f}-{np.percentile(rates, 99):.1f} Hz")
    print(f"baseline: stable fixed point, max Re λ = {base_eig.real.max():+.1f} /s")
    for line in lines:
        print(line)
    print(f"done in {time.perf_counter() - t0:.1f} s")


def _distinct_attractors(attractors, tol=0.05):
    """Group attractors whose representative states (end point or orbit mean) agree."""
    reps = []
    for kind, x, _, _ in attractors:
        if not any(k == kind and np.linalg.norm(x - y) < tol * (1 + np.linalg.norm(y))
                   for k, y in reps):
            reps.append((kind, x))
    return reps


if __name__ == "__main__":
    main()
