# Two commands from a fresh clone (only Python >= 3.10 with venv and pip needed):
#   make reports   set up .venv, build every report into reports/ (open reports/index.html)
#   make test      set up .venv, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: reports test lab clean

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

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf reports $(VENV)
