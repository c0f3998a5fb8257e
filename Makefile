# Every target sets itself up, system packages included where it may install
# them (root or passwordless sudo on Debian/Ubuntu); `check-system` names them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint bench node run check-system system-packages check-display clean dist

# What the system lacks (see packaging/system-packages.sh), named: exit 1 if anything.
check-system:
	@PYTHON=$(PYTHON) sh packaging/system-packages.sh check

# Install what check-system names when root or passwordless sudo and apt-get
# allow it (saying what it installs); otherwise print the apt-get line and stop.
system-packages:
	@PYTHON=$(PYTHON) sh packaging/system-packages.sh ensure

$(STAMP): pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check --no-cache p2pcommunity tests benchmarks
	$(VENV)/bin/ruff format --check p2pcommunity tests benchmarks
	$(VENV)/bin/mypy p2pcommunity

bench: $(STAMP)
	$(PY) benchmarks/bench_local.py
	$(PY) benchmarks/bench_safety.py
	$(PY) benchmarks/bench_sync.py
	$(PY) benchmarks/bench_join.py
	$(PY) benchmarks/bench_node.py
	$(PY) benchmarks/bench_sustained_procs.py
	$(PY) benchmarks/bench_attack.py --seconds 20
	$(PY) benchmarks/bench_cbor.py
	$(PY) benchmarks/bench_knowledge.py
	$(PY) benchmarks/bench_pages.py
	$(PY) benchmarks/bench_page_mesh.py
	$(PY) benchmarks/bench_accountability.py
	$(PY) benchmarks/bench_blobs.py
	$(PY) benchmarks/bench_blob_seeders.py
	$(PY) benchmarks/bench_safety.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/bench_app.py

# The desktop app on the default data dir (starts its node if none runs).
run: $(STAMP) check-display
	$(VENV)/bin/p2pcommunity $(APP_ARGS)

# Qt's xcb platform plugin (a real X11 display) needs more than the offscreen one.
check-display:
	@PYTHON=$(PYTHON) sh packaging/system-packages.sh ensure display

# A headless node on the default data dir (creates the identity on first run).
node: $(STAMP)
	$(VENV)/bin/p2pcommunity-node run $(NODE_ARGS)

# A one-folder bundle with both programs: dist/p2pcommunity/{p2pcommunity,p2pcommunity-node}.
# On Windows and macOS run the same pyinstaller command in a venv (docs/install.md).
dist: $(STAMP)
	$(PY) -m pip show pyinstaller >/dev/null 2>&1 || $(PY) -m pip install --quiet 'pyinstaller>=6.10'
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN \
	  --distpath dist --workpath build/pyinstaller packaging/pyinstaller/p2pcommunity.spec
	@# Desktop integration and its installer travel with the Linux bundle.
	@if [ "$$(uname -s)" = Linux ]; then \
	  mkdir -p dist/p2pcommunity/share/applications dist/p2pcommunity/share/metainfo && \
	  cp packaging/linux/io.github.p2pcommunity.P2PCommunity.desktop dist/p2pcommunity/share/applications/ && \
	  cp packaging/linux/io.github.p2pcommunity.P2PCommunity.metainfo.xml dist/p2pcommunity/share/metainfo/ && \
	  cp -R packaging/linux/icons dist/p2pcommunity/share/ && \
	  cp packaging/linux/install.sh dist/p2pcommunity/install.sh; \
	fi
	@du -sh dist/p2pcommunity

clean:
	rm -rf $(VENV) build dist *.egg-info
