"""The fixed network and the trained controller of a run, rebuilt from its Dataset."""

from __future__ import annotations

import xarray as xr


def network_from_dataset(ds: xr.Dataset):
    """Rebuild the fixed :class:`~brainbias.models.rate.Network` of a run (float64 arrays).

    Its ``tau`` is the run's τ (attribute ``tau``): for a ``bias+tau`` run the fitted one, so
    that any step function built from this network alone has the fitted dynamics; the
    controller (:func:`controller_from_dataset`) holds the exact trained leak as well.
    """
    import jax.numpy as jnp

    from ..models.rate import Network

    arr = lambda name: jnp.asarray(ds[name].values)  # noqa: E731
    return Network(
        recurrent_weights=arr("recurrent_weights"),
        input_weights=arr("input_weights"),
        feedback_weights=arr("feedback_weights"),
        readout_weights=arr("readout_weights"),
        dt=float(ds.attrs["dt"]),
        tau=float(ds.attrs["tau"]),
        nonlinearity=str(ds.attrs["nonlinearity"]),
        form=str(ds.attrs["form"]),
    )


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
