# Two entry points for a fresh machine with Python 3.11, Go and make:
#   make demo   the whole system on a local control plane (etcd, kube-apiserver, controller-manager,
#               scheduler and KWOK nodes, built once with Go into ~/.cache)
#   make test   lint, type-check and the full test suite (on the same control plane)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp carries a hash of pyproject.toml so a dependency change reinstalls.
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: test lint typecheck pytest demo crd render bench clean testbed

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The control plane's programs (etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kwok): taken from $$KUBEBUILDER_ASSETS or built once with Go into ~/.cache, with progress.
testbed: $(STAMP)
	@$(BIN)/python -m testbed build

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) testbed
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

# Written through a temporary file so a failing generator never leaves a truncated CRD behind.
crd: $(STAMP)
	$(BIN)/python -m shared crd > manifests/crd/model.otterscale.io_modelservices.yaml.tmp
	mv manifests/crd/model.otterscale.io_modelservices.yaml.tmp manifests/crd/model.otterscale.io_modelservices.yaml

render: $(STAMP)
	@for f in examples/*.yaml; do echo "### $$f"; $(BIN)/python -m shared render -f $$f || exit 1; done

# The API server, webhook and reconciler as local processes; kubectl applies the examples.
demo: $(STAMP) testbed
	@$(BIN)/python -m demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
