# Set-up, demo and tests. Every target creates/refreshes .venv as needed and is safe to re-run.
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG := configs/support_triage.yaml
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install demo test lint typecheck unit bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# llama-cpp-python compiles llama.cpp on first install (minutes); pip caches the wheel.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[local,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/promptc check $(CONFIG)
	$(BIN)/promptc compile $(CONFIG)
	$(BIN)/promptc eval $(CONFIG) --artifact latest --json artifacts/support-triage-eval.json
	$(BIN)/promptc promote $(CONFIG) --artifact latest --alias production
	$(BIN)/promptc run $(CONFIG) --alias production --input ticket="I was charged twice for my Studio plan this month"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

bench: install
	$(PY) bench/overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
