# Two entry points on a fresh machine: `make demo` (set up + run the pipeline on demo data) and
# `make test` (set up + lint + tests). Both create or update .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DATA ?= data/demo
DEMO_RUN ?= runs/demo

.PHONY: setup demo test lint clean-demo

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# DS_BUILD_OPS=0: DeepSpeed installs as pure Python; ops are JIT-compiled on first use.
	DS_BUILD_OPS=0 $(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) tools/make_demo_data.py --out $(DEMO_DATA) --num_clips 240 --seed 0
	$(PY) tools/print_config.py --config pretrain/demo.yaml --out $(DEMO_RUN)/pretrain
	@echo "demo data: $(DEMO_DATA)   resolved config: $(DEMO_RUN)/pretrain/config.yaml"

clean-demo:
	rm -rf $(DEMO_DATA) $(DEMO_RUN) shards/demo
