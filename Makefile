# Two entry points: `make demo` runs the built-in pipeline, `make test` runs the test suite.
# Each creates (or reuses) its own virtual environment.
PYTHON ?= python3
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,demo,wordvec,onnx,serve,search,milvus,ray
DEMO_VENV := .venv-demo
TEST_VENV := .venv-test
# The demo runs on the real benchmark files when a data directory is found (then fully offline);
# without one it reads the same datasets from the Hugging Face Hub.
SENTEMB_DATA ?= $(shell [ -d ../shared/datasets ] && cd ../shared/datasets && pwd)

.PHONY: demo test lint clean

$(DEMO_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q --upgrade pip
	$(DEMO_VENV)/bin/pip install -q "$(TORCH_SPEC)"
	$(DEMO_VENV)/bin/pip install -q -e ".[demo,wordvec,onnx,search]"
	touch $@

$(TEST_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q --upgrade pip
	$(TEST_VENV)/bin/pip install -q "$(TORCH_SPEC)"
	$(TEST_VENV)/bin/pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: $(DEMO_VENV)/.installed
	SENTEMB_DATA="$(SENTEMB_DATA)" HF_HUB_OFFLINE=$(if $(SENTEMB_DATA),1,0) $(DEMO_VENV)/bin/sentemb run -o runs/demo

test: $(TEST_VENV)/.installed
	HF_HUB_OFFLINE=1 $(TEST_VENV)/bin/python -m pytest -q

lint: $(TEST_VENV)/.installed
	$(TEST_VENV)/bin/ruff check src tests

clean:
	rm -rf $(DEMO_VENV) $(TEST_VENV) runs .pytest_cache
