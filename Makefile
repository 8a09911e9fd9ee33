# Two entry points, both safe on a fresh clone with no virtual environment:
#   make demo   set up .venv if needed, then fit the estimators on built-in data
#   make test   set up .venv if needed, then run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.sknoise-installed
# Where no torch is installed yet, this pin picks the CPU build on CPU-only machines
# that are offered one and the CUDA build from PyPI elsewhere. Override freely.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-fast setup clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info

# GPU acceptance check (issue 24) on a CUDA machine: the CUDA tests, then speed and memory
# against their targets, written to benchmarks/results/gpu_check.md (the script's docstring
# says how to run it on a bare GPU machine). Smoke run on the CPU:
#   make gpu-check GPU_CHECK_ARGS="--device cpu --quick"
.PHONY: gpu-check
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py $(GPU_CHECK_ARGS)
