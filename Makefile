# nosana-node: `make demo` shows a market, a node and a client on one machine; `make test` runs the tests.
# Both create (or reuse) the virtual environment in .venv and start what they need.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: help venv engine images clang ipfs node-deps browser demo demo-pipeline test lint format localnet program bench clean

help:
	@echo "make demo     a local market and a node; a pipeline posted, run by the node, its result read back"
	@echo "make demo-pipeline  run pipelines/artifacts.yml on the local Docker engine (no market)"
	@echo "make test     run the test suite (starts dockerd, builds the job image)"
	@echo "make lint     ruff check + format check"
	@echo "make localnet serve the local market (JSON-RPC 127.0.0.1:8899, ws 8900) until Ctrl-C"
	@echo "make program  rebuild the jobs program (.so) with clang-19"
	@echo "make bench    run the benchmarks under bench/"

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

engine:
	bash scripts/ensure-docker.sh
	bash scripts/ensure-iptables.sh

images: engine
	bash scripts/build-images.sh

clang:
	bash scripts/ensure-clang.sh

ipfs:
	bash scripts/ensure-ipfs.sh >/dev/null

node-deps:
	bash scripts/ensure-node-deps.sh

browser:
	bash scripts/ensure-chromium.sh

demo: venv images
	$(BIN)/python scripts/demo.py

demo-pipeline: venv images
	$(BIN)/nosana-node pipeline run pipelines/artifacts.yml

test: venv images clang ipfs node-deps browser
	$(BIN)/pytest -q

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

localnet: venv
	$(BIN)/nosana-node localnet start

program: venv clang
	$(BIN)/python tools/build_program.py

bench: venv images
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
