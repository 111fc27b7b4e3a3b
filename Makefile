# Colony: `make demo` runs the bundled example, `make test` runs the suite.
# Both install, idempotently, what they need: Debian packages and a virtualenv.

PYTHON ?= python3
PREFIX ?= /opt/colony
BINDIR ?= /usr/local/bin
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := python3-venv iproute2 nftables git curl procps util-linux mount e2fsprogs chromium bubblewrap sudo openssl
STAMP_APT := $(VENV)/.apt-stamp
STAMP_PY := $(VENV)/.py-stamp
STAMP_NPM := $(VENV)/.npm-stamp
VENDOR := colony/web/static/vendor

.PHONY: setup install uninstall demo test check bench bench-scale clean

# What the demo, the tests and the checks need, in this checkout: packages and .venv.
setup: $(STAMP_APT) $(STAMP_PY) $(STAMP_NPM)

# Colony for every user of the machine: /opt/colony, /usr/local/bin/colony, the groups
# colony and colony-admin, the systemd unit (README: Install for everyday use).
install: $(STAMP_APT) $(STAMP_NPM)
	@PREFIX=$(PREFIX) BINDIR=$(BINDIR) ./packaging/install.sh

uninstall:
	@PREFIX=$(PREFIX) BINDIR=$(BINDIR) ./packaging/uninstall.sh

$(STAMP_APT): Makefile
	@mkdir -p $(VENV)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

# Bloom's browser libraries (xterm.js, MIT): from npm into the package's static files.
$(STAMP_NPM): package.json package-lock.json
	@command -v npm >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null; }
	@npm ci --no-audit --no-fund --silent
	@mkdir -p $(VENDOR)
	@cp node_modules/@xterm/xterm/lib/xterm.js node_modules/@xterm/xterm/css/xterm.css \
		node_modules/@xterm/addon-fit/lib/addon-fit.js $(VENDOR)/
	@cp node_modules/@xterm/xterm/LICENSE $(VENDOR)/xterm.LICENSE
	@mkdir -p $(VENV) && touch $@

$(STAMP_PY): pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: setup
	@$(BIN)/python scripts/demo.py

test: setup
	@$(BIN)/pytest -q

check: setup
	@$(BIN)/ruff format --check colony tests scripts
	@$(BIN)/ruff check colony tests scripts
	@$(BIN)/mypy colony

bench: setup
	@$(BIN)/python scripts/bench.py
	@$(BIN)/python scripts/bench_network.py
	@$(BIN)/python scripts/bench_dns.py
	@$(BIN)/python scripts/bench_gate.py
	@$(BIN)/python scripts/bench_sandbox.py
	@$(BIN)/python scripts/bench_workspace.py
	@$(BIN)/python scripts/bench_audit.py
	@$(BIN)/python scripts/bench_flood.py
	@$(BIN)/python scripts/bench_preview.py
	@$(BIN)/python scripts/bench_cli.py
	@$(BIN)/python scripts/bench_remove.py

# Minutes long: 1,000 live colonies with a service each (issue 15's scale goals).
bench-scale: setup
	@$(BIN)/python scripts/bench_scale.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
