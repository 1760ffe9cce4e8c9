# The two commands a new user needs: `make quickstart` and `make test`.
# Each creates .venv (once) and installs the project from this checkout.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install quickstart test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/mlcore run configs/quickstart.yaml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not bench and not gpu" --durations=30 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/mlcore run configs/bench/xgboost.yaml

clean:
	rm -rf $(VENV) .pytest_cache
