"""Checkpoints: the trainable partition, optimiser state and progress of a fit, in one ``.npz``.

Written atomically; a checkpoint stores its training config and a digest of the fixed weights, so
that a resume with another config or network is refused rather than silently mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .._errors import ConfigError, DataError
from .config import to_dict

CHECKPOINT_VERSION = 1


def _tree_digest(tree) -> str:
    """SHA-256 of the bytes of every leaf of ``tree`` (the fixed weights a checkpoint is for)."""
    h = hashlib.sha256()
    for leaf in jax.tree_util.tree_leaves(tree):
        h.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return h.hexdigest()


def _save_checkpoint(path: Path, trainable, opt_state, iteration, loss, strengths, best,
                     bad_chunks, config, frozen_digest):
    """Write the state after ``iteration`` iterations to ``path`` (atomically)."""
    arrays = {}
    for prefix, tree in (("trainable", trainable), ("opt", opt_state)):
        for i, leaf in enumerate(jax.tree_util.tree_leaves(tree)):
            arrays[f"{prefix}_{i}"] = np.asarray(leaf)
    meta = dict(version=CHECKPOINT_VERSION, iteration=int(iteration), best=float(best),
                bad_chunks=int(bad_chunks), config=to_dict(config), frozen_digest=frozen_digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, loss=np.asarray(loss), teacher_forcing=np.asarray(strengths),
                     meta=np.array(json.dumps(meta)), **arrays)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename, so a crash keeps a whole file
        os.replace(tmp, path)  # atomic: a kill mid-write never leaves a half checkpoint
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataError(f"could not write the checkpoint {path}: "
                            f"{exc.strerror or exc}; the previous checkpoint (if any) is "
                            "kept.") from None
        raise


def _fresh_start(path) -> str:
    return (f"Delete {path} (or pass another --out) to start the fit afresh, or resume with the "
            "config of the run that wrote it.")


def _read(path: Path) -> tuple[dict, dict]:
    """The arrays and the metadata of a checkpoint file, or a DataError that says it is
    damaged (truncated, bit-flipped — the zip's CRC catches that — or not a checkpoint)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            files = {name: z[name] for name in z.files}  # reads (and CRC-checks) every member
        meta = json.loads(str(files["meta"]))
        if not isinstance(meta, dict):
            raise ValueError("its metadata is not a table")
    except FileNotFoundError:
        raise ConfigError(f"resume: no checkpoint at {path}; an interrupted fit writes one "
                          "every training.checkpoint_every chunks. Run without --resume to "
                          "start afresh.") from None
    except Exception as exc:  # zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError
        raise DataError(f"resume: {path} is damaged or not a brainbias checkpoint "
                        f"({type(exc).__name__}: {exc}). {_fresh_start(path)}") from None
    return files, meta


def _differences(saved: dict, current: dict) -> str:
    """The keys of two config dicts whose values differ, as ``key saved → current``."""
    keys = sorted(set(saved) | set(current))
    diff = [f"{k} {saved.get(k, '(unset)')!r} → {current.get(k, '(unset)')!r}" for k in keys
            if saved.get(k) != current.get(k)]
    return ", ".join(diff[:5]) + (" …" if len(diff) > 5 else "")


def _load_checkpoint(path: Path, trainable, opt_state, config, frozen_digest):
    """The saved state in the structure (and dtypes) of ``trainable`` and ``opt_state``.

    Raises ConfigError for a missing checkpoint or one of another config or network, DataError
    for an unreadable file or another checkpoint version.
    """
    files, meta = _read(path)
    if meta.get("version") != CHECKPOINT_VERSION:
        raise DataError(f"resume: {path} has checkpoint version {meta.get('version')!r}; this "
                        f"brainbias reads version {CHECKPOINT_VERSION}. {_fresh_start(path)}")
    if meta.get("config") != json.loads(json.dumps(to_dict(config))):
        raise ConfigError(
            f"resume: {path} was written by a fit with a different training config (changed: "
            f"{_differences(meta.get('config') or {}, json.loads(json.dumps(to_dict(config))))})"
            f". {_fresh_start(path)}")
    if meta.get("frozen_digest") != frozen_digest:
        raise ConfigError(f"resume: {path} was written for a different network (its fixed "
                          "weights differ: another seed, size or [network] setting). "
                          + _fresh_start(path))

    def restore(prefix, tree):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        new = []
        for i, leaf in enumerate(leaves):
            saved = files.get(f"{prefix}_{i}")
            if saved is None or saved.shape != np.shape(leaf):
                raise DataError(f"resume: {path} does not hold the state of this fit (array "
                                f"{prefix}_{i} is {'missing' if saved is None else saved.shape}"
                                f", expected {np.shape(leaf)}). {_fresh_start(path)}")
            new.append(jnp.asarray(saved, dtype=jnp.asarray(leaf).dtype))
        return jax.tree_util.tree_unflatten(treedef, new)

    return dict(trainable=restore("trainable", trainable), opt_state=restore("opt", opt_state),
                iteration=meta["iteration"], loss=files["loss"].reshape(-1, files["loss"].shape[-1])
                if files["loss"].size else [], teacher_forcing=files["teacher_forcing"],
                best=meta["best"], bad_chunks=meta["bad_chunks"])
