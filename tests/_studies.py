"""Loading the studies' scripts (analyses/<study>/*.py) in the tests.

Every study has a ``run.py`` and pytest runs them all in one interpreter, so each script is
registered in ``sys.modules`` under a name of its own (dataclasses look their module up there).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"


def load_module(name: str, path: Path):
    """The Python file ``path`` imported as the module ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_study(study: str, script: str = "run", *, prefix: str | None = None):
    """``analyses/<study>/<script>.py`` as the module ``<prefix or study>_<script>``."""
    return load_module(f"{prefix or study}_{script}", ANALYSES / study / f"{script}.py")
