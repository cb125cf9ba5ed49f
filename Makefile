# gazelm: `make train` and `make test` are the whole set-up (they create .venv first).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
# CPU-only machines elsewhere: make install TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=
PYTEST_ARGS ?=
# two pytest workers (pytest-xdist); tests sharing the docs runner's sweeps stay on one worker (xdist_group)
PYTEST_WORKERS ?= -n 2 --dist loadgroup
STAMP := $(VENV)/.gazelm-installed
# codebleu's data-flow match depends on Python's hash seed: fix it for reproducible scores
export PYTHONHASHSEED ?= 0

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast sweep bench clean lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements/lock.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==$(TORCH_VERSION) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[dev]"
	$(BIN)/python -m pip install -q --no-deps -c requirements/lock.txt "lxt==2.1"  # AttnLRP; its own pins would pull a CUDA torch
	-bash scripts/install_wordnet.sh $(VENV)/nltk_data
	@touch $(STAMP)

install: $(STAMP) ## create/refresh .venv with pinned dependencies (idempotent)

train: install ## train the embedded default (stdlib summarization, tiny T5, CE, CPU); ARGS="..." for overrides
	$(BIN)/gazelm train $(ARGS)

test: install ## the whole test suite, slow tests included (what CI runs)
	NLTK_DATA=$(CURDIR)/$(VENV)/nltk_data $(BIN)/python -m pytest $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: install ## unit and integration tests, without the slow marker
	NLTK_DATA=$(CURDIR)/$(VENV)/nltk_data $(BIN)/python -m pytest $(PYTEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

sweep: install ## a small gaze ablation offline: {ce, eyemulator} x 2 seeds, stdlib completion, then its report
	$(BIN)/gazelm train -m objective=ce,eyemulator gaze=eyelink_python task=completion seed=0,1 trainer.max_epochs=2 \
	    "data.source.max_examples={train: 500, val: 50, test: 50}" hydra.sweep.dir=outputs/multiruns/make-sweep $(ARGS)
	$(BIN)/gazelm report outputs/multiruns/make-sweep --baseline objective=ce

bench: install ## every benchmark in benchmarks/ (each prints RATIO last; arms interleaved, see docs/benchmarks.md)
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[bench]"
	@for b in $$(grep -l '__name__ == "__main__"' benchmarks/*.py); do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lock: install ## re-pin requirements/lock.txt from the current .venv
	@{ echo "# Exact versions CI and \`make install\` use (pip constraints; regenerate: make lock)."; \
	   echo "# torch is installed first and separately (CPU build where available); not pinned here."; \
	   $(BIN)/python -m pip freeze --exclude-editable | grep -viE "^(torch|nvidia-|triton|gazelm|pip|setuptools|wheel)[=@ ]" | sort -f; } > requirements/lock.txt

clean: ## remove caches and outputs (keeps .venv)
	rm -rf .cache outputs multirun .pytest_cache
	find . -name __pycache__ -type d -prune -not -path "./$(VENV)/*" -exec rm -rf {} +
