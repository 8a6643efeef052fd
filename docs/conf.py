"""Sphinx configuration of the brainbias documentation site (``make docs``).

Offline: no intersphinx, nothing fetched. The API reference, the configuration reference and
the results-schema page are generated from the code at every build (``_ext/brainbias_docs.py``);
the tutorials (``tutorials/plot_*.py``) are run by sphinx-gallery and their figures made here.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# Headless figures, and no progress bars in the pages.
os.environ.setdefault("MPLBACKEND", "Agg")

import brainbias  # noqa: E402

project = "brainbias"
author = "the brainbias authors"
copyright = "the brainbias authors, MIT licence"
release = brainbias.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "brainbias_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "tutorials/README.rst",
                    "auto_tutorials/*.ipynb", "auto_tutorials/*.py", "auto_tutorials/*.zip"]

# -- MyST (the existing markdown pages) --------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- autodoc / autosummary / numpydoc ----------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False
autodoc_typehints = "none"          # the numpydoc sections carry the types
autodoc_member_order = "bysource"
autodoc_default_options = {"exclude-members": "__init__, __new__, __post_init__"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = False

# Every config key must be described in its class's numpydoc Parameters section: a new key
# without a description is a warning, so the build fails (-W).
brainbias_docs_strict = True

# -- sphinx-gallery (executed tutorials) -------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "tutorials",
    "gallery_dirs": "auto_tutorials",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "write_computation_times": False,
    "backreferences_dir": None,
    "reset_modules": ("matplotlib",),
    "remove_config_comments": True,
    "show_memory": False,
    "capture_repr": (),
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "plot_gallery": "True",
}

# -- HTML --------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"brainbias {release}"
html_static_path = []
html_show_sourcelink = False
