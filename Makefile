# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv when missing, install torch 2.13.0 (CPU build) first, then the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.lossdoctor-installed
EXTRAS ?= torch,dev,peers

.PHONY: demo test lint setup clean browser cjk-font

# System packages (Debian/Ubuntu, apt) the reports need; installed only when missing, as root or
# through passwordless sudo. Without them the browser tests skip (saying why) and Chinese PNG
# labels fall back to boxes.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
APT_GET := $(if $(filter 0,$(shell id -u)),,sudo -n) env DEBIAN_FRONTEND=noninteractive apt-get

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

setup: $(STAMP)

# Chromium drives the HTML report's browser tests (tests/test_report_browser.py, playwright).
browser:
	@test -x $(CHROMIUM) || { echo "installing chromium (apt) for the browser tests"; \
	  ($(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends chromium) \
	  || echo "could not install chromium: the browser tests will be skipped"; }

# A CJK font for Chinese PNG labels (fonts-wqy-microhei: 1.6 MB, against 57 MB for Noto CJK).
cjk-font:
	@test -f $(CJK_FONT) || fc-list :lang=zh 2>/dev/null | grep -q . \
	  || { echo "installing fonts-wqy-microhei (apt) for Chinese labels"; \
	  ($(APT_GET) update -q && $(APT_GET) install -y -q --no-install-recommends \
	  fonts-wqy-microhei) || echo "could not install a CJK font: Chinese PNG labels will not render"; }

demo: $(STAMP) cjk-font
	$(VENV)/bin/lossdoctor demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks evaluation experiments corpus/generate
	$(VENV)/bin/mypy src/lossdoctor

test: lint browser cjk-font
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
