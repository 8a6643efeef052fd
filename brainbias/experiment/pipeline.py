"""One run from a config: read what is fitted, build the network, fit, evaluate, save.

This is the single code path behind ``brainbias fit``, ``brainbias demo`` and the Python call
:func:`run`, for synthetic targets and for recordings alike, so that the CLI and the API agree::

    config ─► source (TargetSource | RecordingSource) ─► [τ = "auto": select] ─► build
           ─► training.fit [─► model selection on validation] ─► source.results (held-out
           evaluation → Dataset) ─► save, figures

A *source* (:class:`~brainbias.experiment.targets.TargetSource`,
:class:`~brainbias.experiment.recording.RecordingSource`) says what the contexts, ``dt``,
inputs and outputs are, gives the fit targets, and knows how its held-out data is scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import jax
import jax.numpy as jnp

from .. import config as _config
from .. import results as _results
from .._errors import ConfigError
from ..config import ExperimentConfig
from ..data.trajectory import Trajectory
from ..models.registry import make_model
from ..results.assemble import with_defaulted_sections
from ..results.io import check_output, removed_on_failure
from ..training.control import make_controller
from ..training.loop import fit
from . import targets as _targets
from .recording import RecordingSource
from .resources import check_resources, check_target_sizes
from .targets import TargetSource, evaluate

__all__ = ["run", "evaluate", "build", "source_of", "summary_table"]


def source_of(config: ExperimentConfig, *, targets: Sequence[Trajectory] | None = None,
              recording=None, progress=None):
    """What ``config`` fits: its ``[recording]`` (or the in-memory ``recording``), else its
    ``[[targets]]`` (or the given ``targets``). ``progress``: the reading bar of a recording
    (``None``: when stderr is a terminal)."""
    if config.recording is not None or recording is not None:
        if targets is not None:
            raise ConfigError("targets: a config with a [recording] table fits the recording; "
                              "do not pass targets as well.")
        return RecordingSource.read(config, recording, progress=progress)
    return TargetSource.from_config(config, targets)


def build(config: ExperimentConfig, source, *, tau=None):
    """Network (fixed random weights) and initial controller of a config, from its seed.

    ``source`` is a :func:`source_of` result or a sequence of Trajectory. ``tau`` overrides
    ``config.network.tau`` (needed when that is ``"auto"``: the same weights are drawn whatever
    τ). Returns ``(network, controller, train_key)``.
    """
    if not hasattr(source, "contexts"):
        source = TargetSource(config, tuple(source))
    k_net, k_ctrl, k_train = jax.random.split(jax.random.PRNGKey(config.seed), 3)
    nc = config.network
    tau = nc.tau if tau is None else tau
    if tau == "auto":
        raise ConfigError('build: network.tau is "auto"; pass the chosen tau=... '
                          "(brainbias.experiment.timescale chooses it).")
    network = make_model(
        nc.model, nc.n_units, options=nc.model_options(), n_inputs=source.n_inputs,
        n_outputs=source.n_outputs, input_scale=nc.input_scale,
        feedback_scale=nc.feedback_scale, readout_scale=nc.readout_scale, dt=source.dt,
        tau=float(tau), key=k_net, dtype=jnp.dtype(config.training.dtype))
    controller = make_controller(network, list(source.contexts), mode=config.training.mode,
                                 bias_scale=config.training.bias_init_scale, key=k_ctrl)
    return network, controller, k_train


def run(config: ExperimentConfig, *, out_dir=None, force: bool = False, resume: bool = False,
        progress: bool = True, figures: bool = True, targets: Sequence[Trajectory] | None = None,
        recording=None, defaulted_sections=None):
    """Fit, evaluate and (optionally) save one experiment.

    Parameters
    ----------
    config : ExperimentConfig
    out_dir : path, optional
        Writes ``run.nc``, ``checkpoint.npz`` and figures there.
    force : bool
        Overwrite an existing ``run.nc``.
    resume : bool
        Continue from ``out_dir/checkpoint.npz``.
    progress, figures : bool
        Progress bars; figures next to ``run.nc``.
    targets : sequence of Trajectory, optional
        Use these instead of building ``config.targets`` (Python API).
    recording : brainbias.data.recordings.Recording, optional
        Fit this instead of reading ``config.recording.path`` (then ``config.recording`` may be
        None and its defaults apply).
    defaulted_sections : sequence of str, optional
        The config tables that took their defaults because the TOML file left them out
        (stored as attribute ``defaulted_sections``); default: those recorded by
        :meth:`ExperimentConfig.from_toml <brainbias.config.ExperimentConfig.from_toml>`.

    Returns
    -------
    xarray.Dataset
        The results (schema :data:`brainbias.results.SCHEMA_VERSION`); a recording run adds
        the recording variables (:data:`brainbias.results.RECORDING_VARIABLES`): held-out
        scores next to the smoothed-PSTH baseline, splits, PSTHs, the co-smoothing readout.

    Raises
    ------
    ConfigError, DataError
        Bad settings, unreadable data, an existing ``run.nc`` without ``force``, an output
        folder that cannot be written, a run that would not fit in memory or on the output
        disk (:func:`brainbias.experiment.resources.check_resources`). A failed run leaves no
        folder it created empty; the results file is written atomically.
    """
    out = Path(out_dir) if out_dir is not None else None
    run_file = out / "run.nc" if out is not None else None
    if run_file is not None:  # fail before any work; the folder is made by the first write
        check_output(run_file, force=force or resume)
    sections = (_config.defaulted_sections(config) if defaulted_sections is None
                else tuple(defaulted_sections))
    if targets is None and recording is None and config.recording is None:
        check_target_sizes(config)  # before the targets are generated
    source = source_of(config, targets=targets, recording=recording,
                       progress=None if progress else False)
    config = source.config
    check_resources(config, source, out_dir=out)  # before the network is allocated
    with removed_on_failure(out):
        return _fit_and_save(config, source, out, resume=resume, progress=progress,
                             figures=figures, defaulted=sections)


def _fit_and_save(config, source, out, *, resume, progress, figures, defaulted):
    """:func:`run` after its checks: select τ, build, fit, evaluate, save."""
    run_file = out / "run.nc" if out is not None else None
    selection, tau = None, config.network.tau
    if tau == "auto":
        selection = source.select_tau(progress=progress)
        tau = selection.chosen_tau
    network, controller, key = build(config, source, tau=tau)
    selector = source.selector()
    train_result = fit(network, controller, source.targets(), config.training, key=key,
                       checkpoint=None if out is None else out / "checkpoint.npz",
                       resume=resume, progress=progress, callback=selector)
    if selector is not None:
        train_result = selector.select(train_result)
    ds = source.results(train_result)
    if selector is not None:
        ds = _results.with_model_selection(ds, selector)
    if selection is not None:
        ds = _results.with_tau_selection(ds, selection)
    ds = with_defaulted_sections(source.finish(ds), defaulted)
    if run_file is not None:
        _results.save(ds, run_file, force=True)
        if figures:
            source.save_figures(ds, out)
    return ds


def summary_table(ds) -> str:
    """Per-context fit-quality table (plain text) of a results Dataset.

    Runs fitted to a recording get :func:`brainbias.experiment.recording.summary_table` (held-out
    scores next to the smoothed-PSTH baseline).
    """
    if _results.is_recording_run(ds):
        from .recording_scores import summary_table as recording_table

        return recording_table(ds)
    return _targets.summary_table(ds)


def replace_training(config: ExperimentConfig, **changes) -> ExperimentConfig:
    """A copy of ``config`` with training fields changed (validated)."""
    return dataclasses.replace(config, training=dataclasses.replace(config.training, **changes))
