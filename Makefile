# The README's two commands: `make demo` and `make test`. Each creates .venv if missing and installs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
# torch for the benchmark reference: pin the CPU build this machine kind ships (an open range would
# pull several GB of CUDA wheels).
TORCH ?= torch==2.13.0
OUT ?= out/demo

.PHONY: demo test bench lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/python -m pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/brainbias demo --out $(OUT) --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	-$(BIN)/python -m pip install -q "$(TORCH)" || echo "torch not installable here: the PyTorch comparison will be skipped"
	$(BIN)/python -m benchmarks

lint: $(STAMP)
	$(BIN)/python -m pip install -q ruff
	$(BIN)/ruff check brainbias tests benchmarks analyses datasets

clean:
	rm -rf $(VENV) out .pytest_cache
