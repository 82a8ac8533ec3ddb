# `make test` sets up .venv (pytest, hypothesis) and runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
VPY    := $(VENV)/bin/python

.PHONY: test soak deep venv lint docs bench fuzz clean

$(VPY): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test,lint]'
	touch $(VPY)

venv: $(VPY)

# The source compiled first (as pip install does): the tests start pynetstat hundreds of times,
# and where PYTHONDONTWRITEBYTECODE is set each start would compile every module again.
test: $(VPY)
	$(VPY) -m compileall -q src > /dev/null
	$(VPY) -m pytest $(PYTEST_ARGS)

soak: $(VPY)
	$(VPY) -m pytest -m slow $(PYTEST_ARGS)

deep: $(VPY)
	PYNETSTAT_DEEP=4 $(VPY) -m pytest $(PYTEST_ARGS)

lint: $(VPY)
	$(VENV)/bin/ruff check src tests bench tools
	$(VPY) -m mypy

# The man page and the shell completions, from the flag table (src/pynetstat/flags.py).
docs:
	$(PYTHON) tools/gen_docs.py

bench: $(VPY)
	$(VPY) bench/bench.py $(BENCH_ARGS)

fuzz: $(VPY)
	$(VPY) -m pip install --quiet atheris
	$(VPY) tests/fuzz/run.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
