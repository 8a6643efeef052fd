# The README's two commands: `make demo` and `make test`. Each creates .venv if missing and installs.
# Another Python goes in its own venv: `make test PYTHON=python3.12 VENV=.venv312`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CKSUM := $(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(CKSUM)
# The docs extra has its own stamp: `make test` must not install Sphinx.
DOCS_STAMP := $(VENV)/.docs-installed-$(CKSUM)
# Extra pytest arguments, e.g. PYTEST_ARGS="tests/test_config.py tests/models".
PYTEST_ARGS ?=
# Sphinx: warnings are errors, but report all of them in one build.
SPHINXOPTS ?= -W --keep-going -q
# A pyenv shim runs only the versions pyenv has selected, so `python3.12` fails where 3.12 is
# installed but not selected: then ask pyenv for it with each installed version selected in turn.
PYTHON_EXE = $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null || \
	for v in $$(pyenv versions --bare 2>/dev/null); do \
	PYENV_VERSION=$$v pyenv which $(PYTHON) 2>/dev/null && break; done)
# torch for the benchmark reference: pin the CPU build this machine kind ships (an open range would
# pull several GB of CUDA wheels).
TORCH ?= torch==2.13.0
OUT ?= out/demo

.PHONY: demo test bench lint install docs clean study

$(BIN)/python:
	@exe="$(PYTHON_EXE)"; test -n "$$exe" || \
	  { echo "make: $(PYTHON) not found; pass PYTHON=/path/to/python3.X" >&2; exit 1; }; \
	  echo "$$exe -m venv $(VENV)"; "$$exe" -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainbias demo --out $(OUT) --force

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e ".[docs]"
	rm -f $(VENV)/.docs-installed-* && touch $(DOCS_STAMP)

# The site, offline, into docs/_build/html; the tutorials (docs/tutorials/plot_*.py) run here.
docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -b html $(SPHINXOPTS) docs docs/_build/html

# A study of analyses/: `make study NAME=lorenz_attractor` runs analyses/NAME/run.py on its
# config.toml into runs/NAME (CONFIG=config_tiny.toml for the smoke run).
NAME ?=
CONFIG ?= config.toml
study: $(STAMP)
	@test -n "$(NAME)" || { echo "make study: name a study, e.g. NAME=$$(ls analyses | grep -v configs | head -1) (one of: $$(ls analyses | grep -v configs | tr '\n' ' '))" >&2; exit 2; }
	$(BIN)/python analyses/$(NAME)/run.py analyses/$(NAME)/$(CONFIG) --out runs/$(NAME)

bench: $(STAMP)
	-$(BIN)/python -m pip install -q "$(TORCH)" || echo "torch not installable here: the PyTorch comparison will be skipped"
	$(BIN)/python -m benchmarks

# The LTC step against ncps's LTCCell (benchmarks/bench_ltc_ncps.py) in its own venv, so that
# torch and ncps never reach .venv and the test suite stays torch-free.
NCPS_VENV ?= .venv-ncps
NCPS_STAMP := $(NCPS_VENV)/.installed-$(CKSUM)

$(NCPS_VENV)/bin/python:
	@exe="$(PYTHON_EXE)"; test -n "$$exe" || \
	  { echo "make: $(PYTHON) not found; pass PYTHON=/path/to/python3.X" >&2; exit 1; }; \
	  echo "$$exe -m venv $(NCPS_VENV)"; "$$exe" -m venv $(NCPS_VENV)
	$(NCPS_VENV)/bin/python -m pip install -q --upgrade pip

$(NCPS_STAMP): $(NCPS_VENV)/bin/python setup.cfg pyproject.toml
	$(NCPS_VENV)/bin/python -m pip install -q "$(TORCH)"
	$(NCPS_VENV)/bin/python -m pip install -q ncps -e .
	rm -f $(NCPS_VENV)/.installed-* && touch $(NCPS_STAMP)

.PHONY: bench-ncps
bench-ncps: $(NCPS_STAMP)
	$(NCPS_VENV)/bin/python benchmarks/bench_ltc_ncps.py

lint: $(STAMP)
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check brainbias tests benchmarks analyses datasets

clean:
	rm -rf $(VENV) out .pytest_cache docs/_build docs/api/generated docs/api/modules docs/auto_tutorials
