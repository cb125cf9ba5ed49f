# gazelm: `make train` and `make test` are the whole set-up (they create .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# CPU-only machines elsewhere: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=
STAMP := $(VENV)/.gazelm-installed

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast sweep bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[dev]"
	-bash scripts/install_wordnet.sh $(VENV)/nltk_data
	@touch $(STAMP)

install: $(STAMP) ## create/refresh .venv with pinned dependencies (idempotent)

train: install ## train the embedded default (stdlib summarization, tiny T5, CE, CPU); ARGS="..." for overrides
	$(BIN)/gazelm train $(ARGS)

test: install ## the whole test suite, slow tests included (what CI runs)
	NLTK_DATA=$(CURDIR)/$(VENV)/nltk_data $(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install ## unit and integration tests, without the slow marker
	NLTK_DATA=$(CURDIR)/$(VENV)/nltk_data $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

sweep: install ## the ablation sweep on the tiny model: objective x seed (ARGS="..." to change it)
	$(BIN)/gazelm train -m objective=ce seed=0,1 $(ARGS)

bench: install ## every benchmark in benchmarks/ (each prints RATIO last)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## remove caches and outputs (keeps .venv)
	rm -rf .cache outputs multirun .pytest_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
