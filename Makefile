# Two commands from a fresh clone (only Python >= 3.10 with venv and pip needed):
#   make reports   set up .venv, build every report into reports/ (open reports/index.html)
#   make test      set up .venv, run the test suite
# and for developers:
#   make faults    the fault-injection suite alone (tests/test_faults_*.py, a few minutes)
#   make bench     time the build against its floor (benchmarks/bench_build.py)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: reports test faults bench lab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m ipykernel install --sys-prefix --name metakit --display-name "Python (metakit)" >/dev/null
	touch $(STAMP)

reports: $(STAMP)
	$(PY) -m metakit build $(ARGS)

test: $(STAMP)
	$(PY) -m pytest $(ARGS)

faults: $(STAMP)
	$(PY) -m pytest -q tests/test_faults_*.py $(ARGS)

bench: $(STAMP)
	$(PY) benchmarks/bench_build.py $(ARGS)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf reports $(VENV)
