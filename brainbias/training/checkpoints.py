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
    with open(tmp, "wb") as fh:
        np.savez(fh, loss=np.asarray(loss), teacher_forcing=np.asarray(strengths),
                 meta=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)  # atomic: a crash mid-write never leaves a half checkpoint


def _load_checkpoint(path: Path, trainable, opt_state, config, frozen_digest):
    """The saved state in the structure (and dtypes) of ``trainable`` and ``opt_state``.

    Raises ConfigError for a missing checkpoint or one of another config or network, DataError
    for an unreadable file or another checkpoint version.
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            files = dict(z)
    except FileNotFoundError:
        raise ConfigError(f"resume: no checkpoint at {path}.") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"resume: {path} is not a readable brainbias checkpoint ({exc}).") from None
    meta = json.loads(str(files["meta"]))
    if meta.get("version") != CHECKPOINT_VERSION:
        raise DataError(f"resume: checkpoint version {meta.get('version')} is not supported.")
    if meta["config"] != to_dict(config):
        raise ConfigError(f"resume: {path} was written with a different training config; "
                          "resume only with the exact config of the interrupted run.")
    if meta["frozen_digest"] != frozen_digest:
        raise ConfigError(f"resume: {path} was written for a different network (fixed weights "
                          "differ); use the same seed and network config.")

    def restore(prefix, tree):
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        new = [jnp.asarray(files[f"{prefix}_{i}"], dtype=jnp.asarray(leaf).dtype)
               for i, leaf in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(treedef, new)

    return dict(trainable=restore("trainable", trainable), opt_state=restore("opt", opt_state),
                iteration=meta["iteration"], loss=files["loss"].reshape(-1, files["loss"].shape[-1])
                if files["loss"].size else [], teacher_forcing=files["teacher_forcing"],
                best=meta["best"], bad_chunks=meta["bad_chunks"])
