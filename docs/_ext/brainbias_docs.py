"""Sphinx extension: the reference pages that are generated from the code, so they cannot drift.

At ``config-inited`` (before Sphinx looks for source files) it writes into ``docs/api/generated/``:

* one page per public module (``<module>.rst``) with an ``autosummary`` table of its public names
  (``__all__``, or the public functions and classes defined in it); autosummary then writes a page
  per name;
* ``index_modules.inc``: the toctree of those module pages, grouped by sub-package, and
  ``top_level.inc``: the names of ``brainbias.__all__`` linked to where they are documented;
* ``config_reference.inc``: every key of :class:`brainbias.config.ExperimentConfig` and its
  tables (``[network]``, ``[network.connectivity]``, ``[training]``, ``[evaluation]``,
  ``[recording]``, ``[[targets]]``), with type, default and the docstring's text;
* ``results_schema.inc``: the dimensions, variables, metrics and attributes of a results
  Dataset, read from :mod:`brainbias.results`.

A public module is one whose dotted name has no component starting with ``_``; a sub-module
without ``__all__`` inside a package that has one (``brainbias.results.io``) is that package's
implementation and is documented through the package. Problems the generator finds (a config
key no docstring describes) are Sphinx warnings when ``brainbias_docs_strict`` is true, so that
``-W`` fails on them; otherwise they are listed on the page.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import types
import typing
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

ROOT = "brainbias"
#: modules that are not part of the library's Python API
SKIP = {"brainbias.cli", "brainbias.__main__"}
#: section order of the module index (sub-packages and top-level modules)
SECTIONS = ("brainbias.config", "brainbias.models", "brainbias.data", "brainbias.training",
            "brainbias.experiment", "brainbias.analysis", "brainbias.results",
            "brainbias.plotting", "brainbias.interop")


# ---------------------------------------------------------------------------------------------
# API pages
# ---------------------------------------------------------------------------------------------

def _all_modules():
    pkg = importlib.import_module(ROOT)
    names = [ROOT]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=ROOT + "."):
        names.append(info.name)
    return sorted(names)


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split(".")) and name not in SKIP


def public_modules() -> dict[str, list[str]]:
    """Module name → its public member names, for every documented module."""
    out = {}
    for name in _all_modules():
        if name == ROOT or not _is_public(name):
            continue
        mod = importlib.import_module(name)
        parent = importlib.import_module(name.rpartition(".")[0])
        has_all = hasattr(mod, "__all__")
        if not has_all and parent.__name__ != ROOT and hasattr(parent, "__all__"):
            continue  # implementation of a package that declares its face
        if has_all:
            members = list(mod.__all__)
        else:
            members = [k for k, v in vars(mod).items() if not k.startswith("_")
                       and (inspect.isfunction(v) or inspect.isclass(v))
                       and getattr(v, "__module__", None) == name]
        out[name] = members
    return out


def _underline(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def _module_page(name: str, members: list[str], elsewhere: dict[str, str]) -> str:
    """The page of one module: its docstring, then a table of its members. ``elsewhere`` maps
    members documented on a sub-module's page (a package re-exporting them) to that name: they
    are linked, not documented twice (which would also clash where a function and a module share
    a dotted name, as ``brainbias.analysis.census``)."""
    lines = [_underline(name), f".. automodule:: {name}\n", f".. currentmodule:: {name}\n"]
    own = [m for m in members if m not in elsewhere]
    if own:
        lines += [".. autosummary::", "   :toctree: ../generated", "   :nosignatures:", ""]
        lines += [f"   {m}" for m in own]
        lines.append("")
    if elsewhere:
        lines += ["Also importable from here (documented in the sub-modules):\n",
                  ".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   ~{elsewhere[m][len(name) + 1:]}" for m in members if m in elsewhere]
        lines.append("")
    return "\n".join(lines) + "\n"


def _documented_below(name: str, members: list[str], modules: dict[str, list[str]]):
    """Members of package ``name`` that one of its documented sub-modules also lists."""
    mod = importlib.import_module(name)
    out = {}
    for m in members:
        obj = getattr(mod, m)
        for sub, sub_members in modules.items():
            if sub.startswith(name + ".") and m in sub_members and \
                    getattr(importlib.import_module(sub), m, None) is obj:
                out[m] = f"{sub}.{m}"
                break
    return out


def _canonical(obj_name: str, obj, modules: dict[str, list[str]]) -> str | None:
    """Where a top-level name is documented: its defining module if that is documented,
    else the shortest documented module that lists the same object."""
    holders = [m for m, members in modules.items() if obj_name in members
               and getattr(importlib.import_module(m), obj_name, None) is obj]
    own = getattr(obj, "__module__", None)
    if own in holders:
        return f"{own}.{obj_name}"
    return f"{min(holders, key=len)}.{obj_name}" if holders else None


def _write(path: Path, text: str):
    """Write only when the text changed, so that Sphinx does not re-read an unchanged page."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _top_level_leftovers(modules) -> list[str]:
    """Names of ``brainbias.__all__`` that no public module documents (the error classes,
    defined in the private ``brainbias._errors``): documented on the ``brainbias`` page."""
    pkg = importlib.import_module(ROOT)
    return [n for n in pkg.__all__ if n != "__version__"
            and _canonical(n, getattr(pkg, n), modules) is None]


def write_api_pages(moddir: Path, stubdir: Path) -> list[str]:
    problems = []
    modules = public_modules()
    modules = {ROOT: _top_level_leftovers(modules), **modules}
    elsewhere = {name: _documented_below(name, members, modules) if name != ROOT else {}
                 for name, members in modules.items()}
    for name, members in modules.items():
        _write(moddir / f"{name}.rst", _module_page(name, members, elsewhere[name]))
    # pages of modules or names that are gone (autosummary writes the per-name pages)
    for old in moddir.glob("*.rst"):
        if old.stem not in modules:
            old.unlink()
    keep = {f"{name}.{m}.rst" for name, members in modules.items() for m in members
            if m not in elsewhere[name]}
    for old in stubdir.glob("*.rst"):
        if old.name not in keep:
            old.unlink()

    # the module index, grouped by section
    lines = [".. toctree::", "   :maxdepth: 1", "", f"   modules/{ROOT}", ""]
    for section in SECTIONS:
        group = [m for m in modules if m == section or m.startswith(section + ".")]
        if not group:
            continue
        lines += [f"{_underline(section, '-')}", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   modules/{m}" for m in group] + [""]
    missing = [m for m in modules if m != ROOT
               and not any(m == s or m.startswith(s + ".") for s in SECTIONS)]
    if missing:
        problems.append(f"modules in no section of the API index: {missing}")
        lines += [f"{_underline('other', '-')}", ".. toctree::", "   :maxdepth: 1", ""]
        lines += [f"   modules/{m}" for m in missing] + [""]
    _write(moddir / "index_modules.inc", "\n".join(lines))

    # brainbias.__all__, linked to where each name is documented
    pkg = importlib.import_module(ROOT)
    rows = []
    for obj_name in pkg.__all__:
        if obj_name == "__version__":
            continue
        target = _canonical(obj_name, getattr(pkg, obj_name), modules)
        if target is None:
            problems.append(f"brainbias.{obj_name} is documented in no public module")
            continue
        rows.append(f"   ~{target}")
    _write(moddir / "top_level.inc",
           ".. autosummary::\n   :nosignatures:\n\n" + "\n".join(rows) + "\n")
    return problems


# ---------------------------------------------------------------------------------------------
# Configuration reference
# ---------------------------------------------------------------------------------------------

def _type_name(hint) -> str:
    if hint is type(None):
        return "None"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return "table"
    return getattr(hint, "__name__", str(hint))


def _toml(value) -> str:
    if value is None:
        return "*(not set)*"
    if isinstance(value, bool):
        return f"``{'true' if value else 'false'}``"
    if isinstance(value, str):
        return f'``"{value}"``'
    if isinstance(value, tuple):
        return f"``{list(value)!r}``" if value else "``[]``"
    return f"``{value!r}``"


def _dataclass_of(hint):
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and dataclasses.is_dataclass(args[0]):
            return args[0]
    return None


def _docstring_parts(obj):
    """(prose, {name: (type text, description)}) of a numpydoc docstring."""
    from numpydoc.docscrape import NumpyDocString

    doc = NumpyDocString(inspect.getdoc(obj) or "")
    prose = "\n".join(doc["Summary"]) + "\n\n" + "\n".join(doc["Extended Summary"])
    params = {}
    for p in doc["Parameters"]:
        for name in p.name.split(","):
            params[name.strip()] = (p.type, "\n".join(p.desc))
    return prose.strip(), params


def _cell(text: str, indent: int = 7) -> str:
    """Text for a list-table cell (the first line follows ``- ``)."""
    text = text.strip() or " "
    first, *rest = text.splitlines()
    pad = " " * indent
    return first + "".join("\n" + (pad + line if line.strip() else "") for line in rest)


def _config_section(title: str, cls, instance, problems: list[str], strict_names: list[str]):
    """RST for one TOML table, and the nested tables it contains (title, cls, instance)."""
    prose, params = _docstring_parts(cls)
    hints = typing.get_type_hints(cls)
    nested = []
    rows = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        default = getattr(instance, f.name) if instance is not None else (
            f.default if f.default is not dataclasses.MISSING else f.default_factory())
        sub = _dataclass_of(hint)
        type_text, desc = params.get(f.name, ("", ""))
        if sub is not None:
            sub_title = f"[{title.strip('[]')}.{f.name}]" if title.startswith("[") else \
                f"[{f.name}]"
            nested.append((sub_title, sub, default))
            default_text = f"see :ref:`{_label(sub_title)}`"
            if default is None:
                default_text = "*(not set)*; " + default_text
        elif f.name == "targets":
            default_text = _toml(default)
            sub_title = "[[targets]]"
            desc = desc or ("One table per context; see :ref:`config-targets`.")
        else:
            default_text = _toml(default)
        if sub is not None and not desc.strip():
            desc = f"The ``{sub_title}`` table."
        if not desc.strip():
            if params and f.name not in params:  # the class documents its keys, not this one
                problems.append(f"{cls.__module__}.{cls.__qualname__}: key {f.name!r} is not "
                                "described in the docstring's Parameters section")
                strict_names.append(f"{cls.__qualname__}.{f.name}")
            desc = ("*(not described in the docstring)*" if params and f.name not in params
                    else " " if f.name in params else "*(described in the text above)*")
        if type_text.startswith("{"):
            desc = f"One of ``{type_text}``. " + desc
        rows.append((f"``{f.name}``", f"``{_type_name(hint)}``", default_text, desc))

    label = _label(title)
    qual = f"{cls.__module__}.{cls.__qualname__}"
    out = [f".. _{label}:\n", _underline(f"{title}", "-"),
           f"Class :class:`~{qual}` (``{qual}``).\n", prose + "\n",
           ".. list-table::", "   :header-rows: 1", "   :widths: 22 16 16 46", "",
           "   * - key", "     - type", "     - default", "     - description"]
    for key, typ, default, desc in rows:
        out += [f"   * - {key}", f"     - {typ}", f"     - {_cell(default)}",
                f"     - {_cell(desc)}"]
    out.append("")
    text = "\n".join(out) + "\n"
    for sub_title, sub, sub_instance in nested:
        text += _config_section(sub_title, sub, sub_instance, problems, strict_names)
    return text


def _label(title: str) -> str:
    slug = title.strip("[]").replace(".", "-").replace("_", "-").replace(" ", "-").lower()
    return f"config-{slug or 'top'}"


def _targets_section() -> str:
    from brainbias.data.targets import TARGETS

    out = [".. _config-targets:\n", _underline("[[targets]]", "-"),
           "Each ``[[targets]]`` table is one context: ``kind`` names a generator of "
           ":data:`brainbias.data.targets.TARGETS`, ``name`` (optional) the context, and the "
           "other keys are that generator's keyword arguments "
           "(:func:`brainbias.data.targets.make_target`).\n"]
    for kind, gen in TARGETS.items():
        _, params = _docstring_parts(gen)
        qual = f"{gen.__module__}.{gen.__qualname__}"
        out += [_underline(f'kind = "{kind}"', "~"),
                f":func:`{qual}`. {_docstring_parts(gen)[0].splitlines()[0]}\n",
                ".. list-table::", "   :header-rows: 1", "   :widths: 22 16 16 46", "",
                "   * - key", "     - type", "     - default", "     - description"]
        for name, p in inspect.signature(gen).parameters.items():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            type_text, desc = params.get(name, ("", ""))
            default = "*(required)*" if p.default is p.empty else _toml(p.default)
            out += [f"   * - ``{name}``", f"     - {_cell(type_text or ' ')}",
                    f"     - {_cell(default)}", f"     - {_cell(desc or ' ')}"]
        out.append("")
    return "\n".join(out) + "\n"


def write_config_reference(path: Path, problems: list[str], strict_names: list[str]):
    from brainbias.config import ExperimentConfig

    head = (
        "This page is generated from the config dataclasses by ``docs/_ext/brainbias_docs.py`` "
        "at every build: keys, types and defaults are read from the code, descriptions from the "
        "docstrings. A TOML config file (``brainbias fit CONFIG.toml``, "
        ":meth:`ExperimentConfig.from_toml <brainbias.config.ExperimentConfig.from_toml>`) has "
        "the top-level keys below and one table per section; unknown keys are errors with a "
        "suggestion. Defaults of a nested table are those of its parent's default (for example "
        "``[network.connectivity] gain`` is 1.2 in a run, although ``ConnectivityConfig()`` "
        "alone has 1.5).\n\n"
    )
    body = _config_section("Top-level keys", ExperimentConfig, ExperimentConfig(), problems,
                           strict_names)
    _write(path, head + body + _targets_section())


# ---------------------------------------------------------------------------------------------
# Results schema
# ---------------------------------------------------------------------------------------------

def _attr_docs(module: str) -> dict[str, str]:
    from sphinx.pycode import ModuleAnalyzer

    docs = ModuleAnalyzer.for_module(module).find_attr_docs()
    return {name: "\n".join(lines).strip() for (ns, name), lines in docs.items() if ns == ""}


def _plain(text: str) -> str:
    """Plain text (with ``name`` in backquotes) safe in RST: ``|`` and ``*`` escaped."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")


def _dims(dims) -> str:
    return "``(" + ", ".join(dims) + (",)``" if len(dims) == 1 else ")``") if dims else \
        "*(scalar)*"


def _table(header, rows, widths) -> str:
    out = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        for j, cell in enumerate(row):
            out.append(f"   {'* -' if j == 0 else '  -'} {_cell(cell)}")
    return "\n".join(out) + "\n\n"


def write_results_schema(path: Path):
    from brainbias import results as R

    docs = _attr_docs("brainbias.results.schema")
    out = ["This page is generated from :mod:`brainbias.results` at every build. "
           f"Schema version: **{R.SCHEMA_VERSION}** (``SCHEMA_VERSION``); "
           ":func:`brainbias.results.load` refuses other versions and "
           ":func:`brainbias.results.validate` checks every rule below.\n"]

    def section(title, name, body):
        out.append(_underline(title, "-"))
        text = docs.get(name, "")
        out.append(f"``{name}``. " + (text + "\n" if text else "\n"))
        out.append(body)

    def names(seq):
        return ", ".join(f"``{n}``" for n in seq) + "\n\n"

    section("Dimensions", "DIMS", names(R.DIMS))
    section("Analysis dimensions", "ANALYSIS_DIMS", names(R.ANALYSIS_DIMS))
    section("Required attributes", "REQUIRED_ATTRS", names(R.REQUIRED_ATTRS))
    section("Variables (every run)", "VARIABLES",
            _table(("variable", "dimensions"),
                   [(f"``{k}``", _dims(v)) for k, v in R.VARIABLES.items()], "40 60"))
    section("Variables of each model family", "MODEL_VARIABLES",
            _table(("family", "variable", "dimensions"),
                   [(f"``{fam}``", f"``{k}``", _dims(v))
                    for fam, group in R.MODEL_VARIABLES.items() for k, v in group.items()],
                   "20 40 40"))
    section("Attributes of each model family", "MODEL_ATTRS",
            _table(("family", "attributes"),
                   [(f"``{fam}``", ", ".join(f"``{a}``" for a in attrs))
                    for fam, attrs in R.MODEL_ATTRS.items()], "20 80"))
    section("Metrics (every run)", "METRICS",
            _table(("variable", "dimensions", "meaning"),
                   [(f"``{k}``", _dims(("context",)), _plain(v))
                    for k, v in R.METRICS.items()],
                   "30 15 55"))
    for title, name in (("Optional variables", "OPTIONAL_VARIABLES"),
                        ("Sparse recurrent weights (all or none)", "SPARSE_VARIABLES"),
                        ("Recording runs (all or none)", "RECORDING_VARIABLES"),
                        ("τ selection (all or none)", "TAU_SELECTION_VARIABLES"),
                        ("Model selection (all or none)", "MODEL_SELECTION_VARIABLES"),
                        ("Teacher comparison (all or none)", "TEACHER_COMPARISON_VARIABLES")):
        group = getattr(R, name)
        section(title, name, _table(("variable", "dimensions"),
                                    [(f"``{k}``", _dims(v)) for k, v in group.items()],
                                    "40 60"))
    _write(path, "\n".join(out))


# ---------------------------------------------------------------------------------------------
# Package docstrings: "which file holds what" tables
# ---------------------------------------------------------------------------------------------

_ROW = re.compile(r"^(``[\w.]+``)( {2,})(\S.*)$")
_TABLE_BORDER = re.compile(r"^=+( +=+)+\s*$")


def file_tables_as_definition_lists(lines: list[str]) -> list[str]:
    """Rewrite the aligned two-column lists of the package docstrings, ::

        ``reading``        :func:`read_recording` (Neo/NWB/NIX files and Neo objects, the NWB
                           trials table) and :func:`from_spike_times` (arrays);

    (readable as text, but not RST) as definition lists, ::

        ``reading``
           :func:`read_recording` (Neo/NWB/NIX files and Neo objects, the NWB
           trials table) and :func:`from_spike_times` (arrays);

    Lines that do not start such a row, or continue one at its column, are left alone.
    """
    out: list[str] = []
    column = None
    in_table = False
    for line in lines:
        if _TABLE_BORDER.match(line):  # an RST simple table: leave it as it is
            in_table = not in_table if column is None else in_table
        if in_table or _TABLE_BORDER.match(line):
            out.append(line)
            continue
        m = _ROW.match(line)
        if m:
            if column is None and out and out[-1].strip():
                out.append("")
            column = len(m.group(1)) + len(m.group(2))
            out += [m.group(1), "   " + m.group(3)]
            continue
        if column is not None and line.strip() and line[:column].strip() == "":
            out.append("   " + line[column:])
            continue
        if column is not None and line.strip():
            out.append("")
        column = None
        out.append(line)
    return out


_SPLIT_ROLE = re.compile(r":\w+:`[^`]*\.$")


def join_split_roles(lines: list[str]) -> list[str]:
    """Join a cross-reference broken after a dot at the end of a line, as in
    ``:class:`~brainbias.experiment.timescale.`` / ``TauSelection`):``: the target then reads
    ``timescale. TauSelection``, and autosummary cuts the summary at the ". " inside it."""
    out: list[str] = []
    for line in lines:
        if out and _SPLIT_ROLE.search(out[-1]) and line.strip():
            out[-1] = out[-1] + line.lstrip()
        else:
            out.append(line)
    return out


def _process_docstring(app, what, name, obj, options, lines):
    lines[:] = join_split_roles(lines)
    if what == "module":
        lines[:] = file_tables_as_definition_lists(lines)


# ---------------------------------------------------------------------------------------------
# Sphinx hooks
# ---------------------------------------------------------------------------------------------

def generate(app, config):
    moddir = Path(app.srcdir) / "api" / "modules"
    stubdir = Path(app.srcdir) / "api" / "generated"
    for d in (moddir, stubdir):
        d.mkdir(parents=True, exist_ok=True)
    problems = write_api_pages(moddir, stubdir)
    outdir = moddir
    # Name the files autosummary reads: on an incremental build Sphinx's list of documents is
    # still the previous build's when autosummary runs, and would miss a new module page.
    config.autosummary_generate = sorted(
        str(p.relative_to(app.srcdir)) for p in moddir.glob("*.rst"))
    strict_names: list[str] = []
    config_problems: list[str] = []
    write_config_reference(outdir / "config_reference.inc", config_problems, strict_names)
    write_results_schema(outdir / "results_schema.inc")
    for p in problems:
        logger.warning("brainbias_docs: %s", p)
    for p in config_problems:
        if config.brainbias_docs_strict:
            logger.warning("brainbias_docs: %s", p)
        else:
            logger.info("brainbias_docs: %s", p)


def setup(app):
    app.add_config_value("brainbias_docs_strict", False, "env")
    # before autosummary (builder-inited) and before Sphinx lists the source files
    app.connect("config-inited", generate)
    # before numpydoc's own handler (priority 500) parses the docstring
    app.connect("autodoc-process-docstring", _process_docstring, priority=400)
    return {"version": "1", "parallel_read_safe": True}


__all__ = ["setup", "public_modules"]
