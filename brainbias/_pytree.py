"""Frozen dataclasses registered as JAX pytrees, and Equinox-style partition/combine.

Array fields are pytree leaves; fields marked ``static`` (floats, strings) are treated as
compile-time metadata. ``partition`` splits a pytree by a boolean mask pytree into a trainable
and a frozen part (``None`` holes), ``combine`` merges them back: fixed-vs-trainable is structure.
"""

from __future__ import annotations

import dataclasses

import jax

__all__ = ["pytree_dataclass", "static_field", "partition", "combine"]


def static_field(**kwargs):
    """A dataclass field that is pytree metadata (hashable, not traced)."""
    metadata = dict(kwargs.pop("metadata", {}), static=True)
    return dataclasses.field(metadata=metadata, **kwargs)


def pytree_dataclass(cls):
    """Make ``cls`` a frozen dataclass and register it with ``jax.tree_util``."""
    cls = dataclasses.dataclass(frozen=True, eq=False)(cls)
    fields = dataclasses.fields(cls)
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    return jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)


def _is_none(x):
    return x is None


def partition(tree, mask):
    """Split ``tree`` into ``(selected, rest)`` by a boolean ``mask`` of the same structure.

    Leaves where the mask is True go to ``selected`` (``None`` in ``rest``) and vice versa.
    """
    selected = jax.tree_util.tree_map(lambda x, m: x if m else None, tree, mask)
    rest = jax.tree_util.tree_map(lambda x, m: None if m else x, tree, mask)
    return selected, rest


def combine(*trees):
    """Merge pytrees with ``None`` holes (inverse of :func:`partition`)."""

    def first(*xs):
        for x in xs:
            if x is not None:
                return x
        return None

    return jax.tree_util.tree_map(first, *trees, is_leaf=_is_none)
