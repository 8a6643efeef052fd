"""Helpers shared by the analysis tests."""

import jax.numpy as jnp

from brainbias import Network


def network_from_weights(w, *, nonlinearity="tanh", form="continuous", dt=0.1, tau=1.0):
    """A Network with the given recurrent weights and no inputs, one zero output."""
    n = w.shape[0]
    return Network(
        recurrent_weights=jnp.asarray(w),
        input_weights=jnp.zeros((n, 0)),
        feedback_weights=jnp.zeros((n, 1)),
        readout_weights=jnp.zeros((1, n)),
        dt=dt,
        tau=tau,
        nonlinearity=nonlinearity,
        form=form,
    ).validate()
