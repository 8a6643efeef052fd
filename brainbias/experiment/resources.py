"""Memory and disk a run will need, estimated from its config before anything is allocated.

A network of ``N`` units holds ``N²`` fixed weights (four ``N × N`` arrays for the LTC family);
with ``N = 10**7`` that is 400 TB in float32, and JAX aborts the process (a native abort, no
Python error) when it tries to allocate them. :func:`check_resources` is called by
:func:`brainbias.experiment.pipeline.run` before the network is built: it refuses, with the
estimate and the machine's limit, a run that would not fit in memory, or whose results would
not fit on the output folder's disk.

The estimate counts the arrays the run is known to hold at once, not every temporary of the
compiled code, so it is a lower bound of the peak within a factor of about two: it catches the
runs that cannot possibly fit, and does not refuse ones that might.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from pathlib import Path

import numpy as np

from .._errors import ConfigError
from ..models.registry import family_class

__all__ = ["ResourceEstimate", "estimate_resources", "available_memory", "check_resources",
           "check_target_sizes", "format_bytes"]

#: numbers held per unit and step of a training window (state, rate, their cotangents)
_PER_STEP_ARRAYS = 4
#: bytes per step of a generated target (a few float64 channels and the generator's copies)
_TARGET_BYTES_PER_STEP = 64


@dataclasses.dataclass(frozen=True)
class ResourceEstimate:
    """What a run needs, in bytes.

    Attributes
    ----------
    memory : dict of str to int
        The largest arrays held at once, by what they are (``"fixed weights"``, ...).
    disk : int
        The results file plus the checkpoint (and its temporary copy while it is replaced).
    """

    memory: dict
    disk: int

    @property
    def memory_total(self) -> int:
        """Sum of :attr:`memory`."""
        return int(sum(self.memory.values()))


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``format_bytes(3 * 2**30)`` → ``"3.0 GiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB" if abs(n) < 1e4 else f"{n:.2g} PiB"


def _parameter_counts(config, n_inputs: int, n_outputs: int) -> tuple[int, int, int]:
    """(numbers in the network's fixed arrays, of which in ``N × N`` arrays, synapses stored
    with two int32 indices each), from the family's ``array_dims`` (nothing is drawn).

    Sparse recurrent weights (``[network.connectivity] sparse = true``) hold the expected
    ``p N²`` synapses (``p N (N − 1)`` without autapses) as COO triplets, not ``N²`` numbers.
    """
    n = config.network.n_units
    size = {"unit": n, "source_unit": n, "input": n_inputs, "output": n_outputs}
    total = square = indexed = 0
    connectivity = config.network.connectivity
    sparse = config.network.model == "rate" and getattr(connectivity, "sparse", False)
    for dims in family_class(config.network.model).array_dims.values():
        count = int(np.prod([size[d] for d in dims], dtype=object))
        if dims == ("unit", "source_unit"):
            if sparse:
                count = math.ceil(connectivity.connection_probability * n
                                  * (n if connectivity.autapses else n - 1))
                indexed += count
            square += count
        total += count
    return total, square, indexed


def estimate_resources(config, *, n_contexts: int, n_inputs: int, n_outputs: int,
                       n_steps: int) -> ResourceEstimate:
    """Estimate the memory and disk of a run of ``config``.

    Parameters
    ----------
    config : ExperimentConfig
    n_contexts, n_inputs, n_outputs : int
        What the source provides (contexts, input and output channels).
    n_steps : int
        The longest target (steps): the evaluation and the results hold states over it.

    Returns
    -------
    ResourceEstimate

    Examples
    --------
    >>> from brainbias.config import ExperimentConfig, NetworkConfig
    >>> cfg = ExperimentConfig(network=NetworkConfig(n_units=1000))
    >>> est = estimate_resources(cfg, n_contexts=1, n_inputs=0, n_outputs=3, n_steps=1000)
    >>> format_bytes(est.memory["fixed weights"])
    '3.8 MiB'
    """
    t, n = config.training, config.network.n_units
    itemsize = np.dtype(t.dtype).itemsize
    params, square, indexed = _parameter_counts(config, n_inputs, n_outputs)
    window = t.washout + t.window
    memory = {
        "fixed weights": params * itemsize + indexed * 8,
        # the float64 copy of every array that the results file stores, and the bytes of the
        # fixed partition hashed for the checkpoint's digest
        "results and checkpoint copies": params * (8 + itemsize) + indexed * 8,
        # BPTT over batch_size windows per context; the ridge readout collects the rates of
        # the whole training part instead
        "training windows": (n_contexts * n_steps * n * (itemsize + 8)) if t.mode == "readout"
        else n_contexts * t.batch_size * window * n * itemsize * _PER_STEP_ARRAYS,
        "evaluation": n_contexts * n_steps * n * (8 + 4 + itemsize),
    }
    if t.mode == "all":  # gradient and Adam's two moments of every trained weight
        memory["optimiser state"] = 3 * params * itemsize
    if config.network.model == "ltc":  # per-synapse conductances of one step, every window
        memory["synapse currents"] = n_contexts * t.batch_size * square * itemsize
    if t.select_every:
        memory["validation free runs"] = n_contexts * t.validation_free_run * n * itemsize
    trained = n_contexts * n * 2 + (params if t.mode == "all" else 0)
    results = (params * 8 + indexed * 8
               + n_contexts * n_steps * (n * 12 + 16 * (n_outputs + n_inputs + 1)))
    checkpoint = 3 * trained * itemsize
    return ResourceEstimate(memory={k: int(v) for k, v in memory.items()},
                            disk=int(results + 2 * checkpoint))


def _meminfo() -> dict:
    """``/proc/meminfo`` in bytes (empty where there is none)."""
    try:
        with open("/proc/meminfo") as fh:
            rows = [line.split() for line in fh]
    except OSError:
        return {}
    return {r[0].rstrip(":"): int(r[1]) * 1024 for r in rows if len(r) >= 2 and r[1].isdigit()}


def _cgroup_limit() -> int | None:
    """Bytes the process's cgroup (v2) may still use, if it sets a limit."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def _address_space_left() -> int | None:
    """Bytes of address space left under ``ulimit -v`` (RLIMIT_AS), if one is set."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    used = 0
    try:
        with open("/proc/self/status") as fh:
            used = next((int(line.split()[1]) * 1024 for line in fh
                         if line.startswith("VmSize:")), 0)
    except OSError:
        pass
    return max(int(soft) - used, 0)


def available_memory() -> tuple[int, str]:
    """Bytes of memory this process can still use, and where that figure comes from.

    The smallest of ``MemAvailable`` (``/proc/meminfo``), the cgroup's remaining limit, the
    address space left under ``ulimit -v``, and, without any of them, the physical memory
    (``os.sysconf``).
    """
    info = _meminfo()
    candidates = []
    if "MemAvailable" in info:
        candidates.append((info["MemAvailable"], f"available of {format_bytes(info['MemTotal'])}"
                           " (/proc/meminfo)" if "MemTotal" in info else "(/proc/meminfo)"))
    cgroup = _cgroup_limit()
    if cgroup is not None:
        candidates.append((cgroup, "left under the cgroup's memory.max"))
    address_space = _address_space_left()
    if address_space is not None:
        candidates.append((address_space, "left under the address-space limit (ulimit -v)"))
    if not candidates:
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            candidates.append((int(total), "physical memory (os.sysconf)"))
        except (ValueError, OSError, AttributeError):
            return 2**63, "unknown (not checked)"
    return min(candidates)


def _largest_fitting_units(config, limit: int, **sizes) -> int:
    """The largest ``n_units`` whose estimate stays under ``limit`` (bisection)."""
    lo, hi = 0, max(int(config.network.n_units), 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        trial = dataclasses.replace(config, network=dataclasses.replace(config.network,
                                                                        n_units=mid))
        if estimate_resources(trial, **sizes).memory_total <= limit:
            lo = mid
        else:
            hi = mid
    return lo


def check_resources(config, source, *, out_dir=None, memory_limit=None,
                    disk_free=None) -> ResourceEstimate:
    """Refuse a run that cannot fit in memory, or whose files cannot fit on the disk.

    Parameters
    ----------
    config : ExperimentConfig
    source : TargetSource or RecordingSource
        What is fitted (contexts, inputs, outputs, targets).
    out_dir : path, optional
        The output folder (or where it will be created); its disk must hold the results.
    memory_limit, disk_free : int, optional
        Use these instead of measuring the machine (tests).

    Returns
    -------
    ResourceEstimate

    Raises
    ------
    ConfigError
        The estimate exceeds the memory available, or the free space of the output disk; the
        message gives both figures and the largest ``n_units`` that fits.
    """
    sizes = dict(n_contexts=len(source.contexts), n_inputs=int(source.n_inputs),
                 n_outputs=int(source.n_outputs),
                 n_steps=max(int(t.n_steps) for t in source.targets()))
    est = estimate_resources(config, **sizes)
    where = "given"
    if memory_limit is None:
        memory_limit, where = available_memory()
    if est.memory_total > memory_limit:
        parts = sorted(est.memory.items(), key=lambda kv: -kv[1])[:3]
        fits = float(f"{_largest_fitting_units(config, memory_limit, **sizes):.2g}")
        raise ConfigError(
            f"network.n_units = {config.network.n_units}: this run needs about "
            f"{format_bytes(est.memory_total)} of memory ("
            + ", ".join(f"{k} {format_bytes(v)}" for k, v in parts)
            + f"), but this machine has {format_bytes(memory_limit)} {where}. Memory grows as "
            f"n_units²: lower network.n_units (about {fits:.0f} fits here with these settings), "
            "or training.batch_size / window, or run on a larger machine.")
    if out_dir is not None:
        _check_disk(Path(out_dir), est.disk, disk_free)
    return est


def check_target_sizes(config, *, memory_limit=None) -> None:
    """Refuse ``[[targets]]`` tables whose ``n_steps`` could not even be generated in memory
    (called before the targets are made: a huge array would otherwise fail deep inside NumPy
    or get the process killed by the system).

    Raises
    ------
    ConfigError
        The targets need more than the memory available; the message names the target.
    """
    steps = {str(t.get("name", t.get("kind"))): _target_steps(t) for t in config.targets}
    steps = {k: v for k, v in steps.items() if v}
    needed = sum(n * _TARGET_BYTES_PER_STEP for n in steps.values())
    if not steps or needed <= (memory_limit or 0):
        return
    where = "given"
    if memory_limit is None:
        memory_limit, where = available_memory()
    if needed > memory_limit:
        name, n = max(steps.items(), key=lambda kv: kv[1])
        raise ConfigError(
            f"targets: the [[targets]] table {name!r} takes {n:.3g} steps of dt (n_steps, plus "
            f"transient / dt); generating the targets needs about {format_bytes(needed)} of "
            f"memory, but this machine has {format_bytes(memory_limit)} {where}. Lower n_steps "
            f"or transient (about {memory_limit // _TARGET_BYTES_PER_STEP:.1e} steps in all "
            "fit here).")


def _target_steps(spec: dict) -> float:
    """The steps a ``[[targets]]`` table's generator takes: ``n_steps`` plus the
    ``transient`` crossed in steps of ``dt`` (0 where they are not numbers: the generator
    itself rejects those)."""
    number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    n, transient, dt = spec.get("n_steps"), spec.get("transient", 0.0), spec.get("dt")
    if not number(n) or n <= 0:
        return 0.0
    if number(transient) and number(dt) and math.isfinite(transient) and dt > 0:
        return float(n) + max(float(transient), 0.0) / float(dt)
    return float(n)


def _check_disk(out: Path, needed: int, free=None):
    """ConfigError unless the disk of ``out`` (or of its nearest existing parent) has
    ``needed`` bytes free."""
    if free is None:
        existing = out
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        try:
            free = shutil.disk_usage(existing).free
        except OSError:
            return
    if needed > free:
        raise ConfigError(
            f"output folder {out}: the results and checkpoint need about "
            f"{format_bytes(needed)}, but its disk has {format_bytes(free)} free. Free some "
            "space, or pass --out on another disk (or lower network.n_units).")
