# chromaseg: the two commands a fresh machine needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.chromaseg-setup
DEMO_OUT ?= demo-out

.PHONY: setup test demo bench clean

setup: $(STAMP)

# torch==2.13.0 first: it is the local CPU wheel; any other spec pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml install/constraints-cpu.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q torch==2.13.0
	$(PIP) install -q -c install/constraints-cpu.txt -e '.[daemon,train,dev,cluster]'
	touch $(STAMP)

test: setup
	$(PY) -m pytest -q

# The GIMP 3 plug-in in real GIMP: builds the trixie chroot when it is missing (kept for reuse), then its tests.
.PHONY: test-gimp
test-gimp: setup
	install/editors/gimp-chroot.sh build
	$(PY) -m pytest -q tests/plugins/gimp tests/editors/gimp

# The Krita plugin in real Krita (kritarunner under Xvfb): installs Krita when kritarunner is missing, then its tests.
.PHONY: test-krita krita-screenshots
test-krita: setup
	install/editors/krita-deps.sh
	$(PY) -m pytest -q tests/plugins/common tests/plugins/krita tests/editors/krita

# docs/images/krita-*.png, taken from real Krita under Xvfb against a real daemon.
krita-screenshots: setup
	install/editors/krita-deps.sh
	$(PY) docs/tools/krita_screenshots.py

# docs/images/gimp-*.png, taken from real GIMP 3 (the chroot) under Xvfb against a real daemon.
.PHONY: gimp-screenshots
gimp-screenshots: setup
	install/editors/gimp-chroot.sh build
	docs/tools/gimp_screenshots.sh

# docs/images/pipeline.png and gallery.jpg from the shipped weights (the gallery's photos are scikit-image's samples).
.PHONY: figures
figures: setup
	$(PY) docs/tools/pipeline_figure.py
	$(PY) docs/tools/gallery_figure.py

demo: setup
	$(PY) -m chromaseg.cli.main demo --out $(DEMO_OUT)

bench: setup
	$(PY) bench/bench_color.py
	$(PY) bench/bench_harmonize.py
	$(PY) bench/bench_echo.py
	$(PY) bench/bench_segment.py
	$(PY) bench/bench_pipeline.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .hypothesis
