# fusionsci: fresh-machine set-up and the usual tasks.
#
#   make demo        create .venv if needed, install fusionsci[plots], run the Burgers demo
#   make test        create .venv if needed, install fusionsci[test], run the test suite (2 processes)
#   make test-slow   the long accuracy runs (pytest -m slow)
#   make bench       the solver benchmark (quick)
#   make clean       remove build and run outputs (keeps .venv; `make distclean` removes it too)
#
# Variables: PYTHON (interpreter that creates the venv, default python3), VENV (default .venv).
# Installs are redone only when pyproject.toml changes (stamp files inside the venv).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test test-slow bench clean distclean venv

venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# the stamps are real files: keep them (they are made by a pattern rule)
.SECONDARY:

# one stamp per extra: $(VENV)/.installed-plots, -test, -bench
$(VENV)/.installed-%: pyproject.toml | $(PY)
	$(PIP) install -e '.[$*]'
	@touch $@

demo: $(VENV)/.installed-plots
	$(PY) -m fusionsci demo

# the suite in TEST_WORKERS processes (pytest-xdist), grouped by module so that module fixtures
# are built once; TEST_WORKERS=0 runs it in this process
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope

test-slow: $(VENV)/.installed-test
	$(PY) -m pytest -q -m slow

bench: $(VENV)/.installed-bench
	$(PY) -m fusionsci bench solvers --quick

clean:
	rm -rf out build dist .pytest_cache .hypothesis kernel_meta akg_kernel_meta rank_* kernel_build_tmp.key dsa_transfrom.log
	find fusionsci tests benchmarks examples -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV) *.egg-info
