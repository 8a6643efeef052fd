"""The fixed network and the trained controller of a run, rebuilt from its Dataset."""

from __future__ import annotations

import xarray as xr


def network_from_dataset(ds: xr.Dataset):
    """Rebuild the fixed network of a run, of its family (float64 arrays).

    Its ``tau`` is the run's τ (attribute ``tau``): for a ``bias+tau`` run the fitted one, so
    that any step function built from this network alone has the fitted dynamics; the
    controller (:func:`controller_from_dataset`) holds the exact trained leak as well. Sparse
    recurrent weights (stored as ``recurrent_weights_row`` / ``_column`` / ``_value``) come
    back as :class:`~brainbias.models.sparse.SparseWeights`.
    """
    from ..models.registry import family_class
    from .schema import MODEL_ATTRS, OPTIONAL_MODEL_ATTRS, model_family

    family = model_family(ds)
    cls = family_class(family)
    arrays = {name: _fixed_array(ds, name) for name in cls.array_dims}
    settings = {name: _plain(ds.attrs.get(name, OPTIONAL_MODEL_ATTRS.get(name)))
                for name in MODEL_ATTRS[family]}
    return cls(**arrays, dt=float(ds.attrs["dt"]), tau=float(ds.attrs["tau"]), **settings)


def _fixed_array(ds: xr.Dataset, name: str):
    """A fixed array of the network: dense, or rebuilt from its sparse triplets (validated)."""
    import jax.numpy as jnp

    from .schema import stored_sparse

    if not stored_sparse(ds, name):
        return jnp.asarray(ds[name].values)
    from ..models.sparse import SparseWeights

    return SparseWeights(rows=jnp.asarray(ds[f"{name}_row"].values, jnp.int32),
                         columns=jnp.asarray(ds[f"{name}_column"].values, jnp.int32),
                         values=jnp.asarray(ds[f"{name}_value"].values),
                         n_units=int(ds.sizes["unit"])).validate()


def _plain(value):
    """An attribute as the Python scalar a model's static field holds (NetCDF gives numpy)."""
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, str)) else str(value)


def controller_from_dataset(ds: xr.Dataset):
    """Rebuild the trained :class:`~brainbias.training.control.Controller` of a run."""
    import jax.numpy as jnp

    from ..training.control import Controller

    readout = ds.get("trained_readout_weights")
    logit = ds.get("trained_leak_logit")
    return Controller(
        bias=jnp.asarray(ds["bias"].values),
        initial_state=jnp.asarray(ds["initial_state"].values),
        readout_weights=None if readout is None else jnp.asarray(readout.values),
        leak_logit=None if logit is None else jnp.asarray(logit.values),
        contexts=tuple(str(c) for c in ds["context"].values),
    )
