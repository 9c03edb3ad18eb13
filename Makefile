# ferrule: `make help` lists the targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.DEFAULT_GOAL := help
.PHONY: help deps build lint fmt test test-rust test-py demo bench clean

help: ## show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install what is missing: system packages (as root), the virtualenv and Python tools
	@bash tools/install-deps.sh $(VENV)

build: deps ## build the native module (release, LTO) into the virtualenv
	@$(VENV)/bin/maturin develop --release --quiet 2>&1 | grep -vE '^(📦|🔗|🐍|💻|📖|🛠)' || true
	@$(PY) -c "import ferrule._ferrule" || { echo "build failed"; exit 1; }

lint: build ## ruff, mypy (with the stubs), rustfmt, clippy -D warnings
	$(VENV)/bin/ruff check python tests bench tools
	$(VENV)/bin/ruff format --check python tests bench tools
	$(VENV)/bin/mypy
	$(PY) -m mypy.stubtest ferrule._ferrule
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

fmt: deps ## format Rust and Python sources
	cargo fmt --all
	$(VENV)/bin/ruff format python tests bench tools
	$(VENV)/bin/ruff check --fix python tests bench tools

test-rust: ## Rust unit and golden-byte tests
	cargo test --workspace --quiet

test-py: build ## the Python suite against real servers started by the harness
	$(PY) tools/run_pytest.py

test: build lint test-rust test-py ## install, start servers, build, lint, run every test

demo: build ## build and run the showcase
	$(PY) -m ferrule demo

bench: build ## ferrule against its peers, side by side, medians and ratios
	$(PY) bench/run.py

clean: ## remove build products and the virtualenv
	cargo clean
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
