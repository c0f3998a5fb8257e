# Every target sets itself up: a fresh clone needs only the system packages
# that `check-system` names (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test lint bench node run check-system check-display clean dist

check-system:
	@missing=""; \
	command -v $(PYTHON) >/dev/null || missing="$$missing python3"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || missing="$$missing python3>=3.11"; \
	$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || missing="$$missing python3-venv"; \
	$(PYTHON) -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null || missing="$$missing python3-dev"; \
	{ [ -f /usr/include/gmp.h ] || ls /usr/include/*/gmp.h >/dev/null 2>&1; } || missing="$$missing libgmp-dev"; \
	for lib in libEGL.so.1:libegl1 libGL.so.1:libgl1 libxkbcommon.so.0:libxkbcommon0 \
	           libfontconfig.so.1:libfontconfig1 libxcb-cursor.so.0:libxcb-cursor0 libdbus-1.so.3:libdbus-1-3; do \
	  ldconfig -p 2>/dev/null | grep -q "$${lib%%:*}" || missing="$$missing $${lib##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Missing system packages:$$missing"; \
	  echo "On Debian/Ubuntu: sudo apt-get install$$missing" | sed 's/python3>=3.11/python3/'; \
	  exit 1; \
	fi

$(STAMP): pyproject.toml | check-system
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check p2pcommunity tests benchmarks
	$(VENV)/bin/ruff format --check p2pcommunity tests benchmarks
	$(VENV)/bin/mypy p2pcommunity

bench: $(STAMP)
	$(PY) benchmarks/bench_local.py
	$(PY) benchmarks/bench_sync.py
	$(PY) benchmarks/bench_join.py
	$(PY) benchmarks/bench_node.py
	$(PY) benchmarks/bench_sustained_procs.py
	$(PY) benchmarks/bench_attack.py --seconds 20
	$(PY) benchmarks/bench_cbor.py
	QT_QPA_PLATFORM=offscreen $(PY) benchmarks/bench_app.py

# The desktop app on the default data dir (starts its node if none runs).
run: $(STAMP) check-display
	$(VENV)/bin/p2pcommunity $(APP_ARGS)

# Qt's xcb platform plugin (a real X11 display) needs these besides check-system's.
check-display:
	@missing=""; \
	for lib in libxcb-icccm.so.4:libxcb-icccm4 libxcb-image.so.0:libxcb-image0 \
	           libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-randr.so.0:libxcb-randr0 \
	           libxcb-render-util.so.0:libxcb-render-util0 libxcb-shape.so.0:libxcb-shape0 \
	           libxcb-xinerama.so.0:libxcb-xinerama0 libxcb-xkb.so.1:libxcb-xkb1 \
	           libxkbcommon-x11.so.0:libxkbcommon-x11-0; do \
	  ldconfig -p 2>/dev/null | grep -q "$${lib%%:*}" || missing="$$missing $${lib##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Missing system packages for the desktop app:$$missing"; \
	  echo "On Debian/Ubuntu: sudo apt-get install$$missing"; \
	  exit 1; \
	fi

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
