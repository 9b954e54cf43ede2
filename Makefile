# Two commands set everything up: `make demo` and `make test`. Both install what is missing
# (Debian packages when root or with sudo, the .venv, the project) and are safe to rerun.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.composer-installed
APT_PACKAGES := libfluidsynth3 fluid-soundfont-gm
DEMO_CORPUS ?= build/demo-corpus
# CI and tests have no sound card and no display.
TEST_ENV := SDL_AUDIODRIVER=dummy SDL_VIDEODRIVER=dummy MPLBACKEND=Agg

.PHONY: demo test system-deps install clean

# Music first (the shipped checkpoints need no corpus), then the corpus they were trained on:
# converting all of music21's corpus takes minutes, so it comes last.
demo: install
	$(BIN)/composer generate --model pop --bars 8 --seed 7 -o build/demo.wav
	$(BIN)/composer play --minutes 1 --fallback-out build/demo-play.wav
	$(BIN)/composer corpus build music21:all -o $(DEMO_CORPUS)
	$(BIN)/composer corpus info $(DEMO_CORPUS)
	$(BIN)/composer corpus plot $(DEMO_CORPUS)

# The GUI's tests also open one real window, on a virtual X display; the studio's page is
# driven in Debian's headless Chromium (Playwright's own browser download needs the internet),
# and two studio workers share a Redis queue and a PostgreSQL database.
test: APT_PACKAGES += xvfb chromium redis-server postgresql
test: install
	$(TEST_ENV) $(BIN)/python -m pytest -q

install: $(STAMP)

# Re-run pip only when pyproject.toml changes; the system check runs every time (it is cheap).
$(STAMP): pyproject.toml | system-deps
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

system-deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "ok installed" || missing="$$missing $$pkg"; \
	done; \
	$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then sudo="sudo"; \
	  else echo "composer needs Debian packages:$$missing. Install them with: sudo apt-get install$$missing" >&2; exit 1; fi; \
	  echo "installing$$missing"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq$$missing; \
	fi

clean:
	rm -rf $(VENV) build .pytest_cache
