"""The package's shape (issue 13): rooms import only from rooms above them, no function hides
two ideas, no module is a warehouse. These read the source; they run in well under a second."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "brainbias"

#: The data-flow picture of docs/design.md, top to bottom: a module may import from its own
#: layer and from layers listed before it, never from a later one.
LAYERS = [
    ("base", ["_errors", "_pytree", "_version", "_brainpy"]),
    ("models", ["models"]),
    ("data", ["data"]),
    ("training", ["training"]),
    ("interop", ["interop"]),
    ("config", ["config"]),
    ("results", ["results"]),
    ("analysis", ["analysis"]),
    ("plotting", ["plotting"]),
    ("experiment", ["experiment"]),
    ("cli", ["cli", "__init__", "__main__"]),
]
MAX_FUNCTION_LINES = 80  # body lines, docstring excluded
MAX_MODULE_LINES = 500
LONG_OK = "# long:"  # a function may exceed the limit with its reason on the def line


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(dotted: str) -> int:
    parts = dotted.split(".")
    head = parts[1] if len(parts) > 1 else "__init__"
    for i, (_, names) in enumerate(LAYERS):
        if head in names:
            return i
    raise AssertionError(f"{dotted}: not in any layer of tests/test_layout.py::LAYERS")


def _imports(path: Path):
    """(line, absolute module) of every brainbias import in ``path``, lazy ones included."""
    tree = ast.parse(path.read_text())
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("brainbias"):
                continue
            if node.module is None or mod in ("brainbias",):  # from . import a, b
                for alias in node.names:
                    yield node.lineno, f"{mod}.{alias.name}"
            else:
                yield node.lineno, mod
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("brainbias"):
                    yield node.lineno, alias.name


def test_every_module_is_in_a_layer():
    for path in _modules():
        _layer(_dotted(path))


def test_no_module_imports_from_a_later_layer():
    bad = []
    for path in _modules():
        me = _layer(_dotted(path))
        for line, mod in _imports(path):
            if mod == "brainbias":
                continue
            if _layer(mod) > me:
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {mod} "
                           f"({LAYERS[_layer(mod)][0]} is below {LAYERS[me][0]})")
    assert not bad, "imports against the data flow:\n" + "\n".join(bad)


def _function_lengths(path: Path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                start = body[0].end_lineno + 1 if len(body) > 1 else node.end_lineno
                start = body[1].lineno if len(body) > 1 else start
            else:
                start = body[0].lineno
            n = node.end_lineno - start + 1
            reason = LONG_OK in lines[node.lineno - 1]
            yield node.name, node.lineno, n, reason


def test_no_function_over_the_limit_without_a_reason():
    bad = [f"{p.relative_to(PACKAGE.parent)}:{line} {name} has {n} lines"
           for p in _modules() for name, line, n, ok in _function_lengths(p)
           if n > MAX_FUNCTION_LINES and not ok]
    assert not bad, (f"functions over {MAX_FUNCTION_LINES} lines (split them, or say why "
                     f"with '{LONG_OK} …' on the def line):\n" + "\n".join(bad))


def test_no_module_over_the_limit():
    bad = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in _modules()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not bad, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ("def f():\n    '''doc'''\n    a = 1\n    return a\n", 2),
    ("def f():\n    a = 1\n    return a\n", 2),
])
def test_the_length_counter_excludes_the_docstring(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert [n for _, _, n, _ in _function_lengths(path)] == [expected]
