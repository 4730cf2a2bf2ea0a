# dojo.kafka_observability — development loop.
#   make test    everything CI runs (installs what it needs first)
#   make demo    the main job: lab up, site.yml, verification (see README)
# Stages are separate targets so one can be re-run alone: lint, sanity, unit,
# artifacts, integration, lab.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON      ?= python3
VENV        := $(CURDIR)/.venv
BIN         := $(VENV)/bin
BUILD       := $(CURDIR)/build
STAMPS      := $(BUILD)/stamps
COLL_ROOT   := $(BUILD)/collections
COLL_LINK   := $(COLL_ROOT)/ansible_collections/dojo/kafka_observability
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/dojo/kafka_observability
PYTEST      := $(BIN)/pytest

export PATH := $(BIN):$(BUILD)/trixie/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLL_ROOT)
# Ansible's home (caches, collections that tools install) inside build/: molecule copies the
# collection it runs from into <ANSIBLE_HOME>/collections, and a copy in ~/.ansible would
# shadow the working tree for every later ansible-lint or playbook run on this machine.
export ANSIBLE_HOME := $(BUILD)/ansible-home
export ANSIBLE_FORCE_COLOR := $(if $(CI),0,1)
export PY_COLORS := $(if $(CI),0,1)
export ANSIBLE_NOCOLOR := $(if $(CI),1,)

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- toolchain
$(STAMPS)/apt: scripts/apt-packages.txt scripts/install-apt-packages.sh
	@mkdir -p $(STAMPS)
	scripts/install-apt-packages.sh scripts/apt-packages.txt
	@touch $@

$(STAMPS)/venv: requirements-dev.lock requirements-dev.txt
	@mkdir -p $(STAMPS)
	@echo "==> creating the virtual environment $(VENV) (pinned toolchain)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock 2>&1 \
	  | sed "/is ignored: it is neither a file nor a directory/d"
	@touch $@

$(STAMPS)/trixie: scripts/fetch-trixie-tools.sh scripts/fetch-trixie-debs.sh
	@mkdir -p $(STAMPS)
	scripts/fetch-trixie-tools.sh $(BUILD)/trixie
	@touch $@

$(COLL_LINK):
	@mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

.PHONY: deps
deps: $(STAMPS)/apt $(STAMPS)/venv $(STAMPS)/trixie $(COLL_LINK) ## install apt packages, the venv and the collection link

.PHONY: lock
lock: $(STAMPS)/venv ## re-pin requirements-dev.lock from requirements-dev.txt
	rm -rf $(BUILD)/lockvenv && $(PYTHON) -m venv $(BUILD)/lockvenv
	$(BUILD)/lockvenv/bin/pip install --quiet -r requirements-dev.txt
	$(BUILD)/lockvenv/bin/pip freeze --exclude pip --exclude setuptools > requirements-dev.lock

# ---------------------------------------------------------------- stages
.PHONY: lint
lint: deps ## ruff, yamllint, ansible-lint (production profile), changelog lint
	@echo "==> ruff"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@echo "==> yamllint"
	$(BIN)/yamllint --strict .
	@echo "==> ansible-lint (production profile)"
	$(BIN)/ansible-lint --profile production
	@echo "==> antsibull-changelog lint"
	$(BIN)/antsibull-changelog lint

.PHONY: sanity
sanity: deps ## ansible-test sanity on a copy of the collection (no docker)
	@echo "==> ansible-test sanity (validate-modules, pylint, pep8, import, ...)"
	scripts/sync-sanity-tree.sh $(SANITY_ROOT)
	@# ansible-test fetches get-pip.py from a host that is unreachable here: give it ours
	@mkdir -p ~/.ansible/test/cache && for v in $$($(BIN)/python scripts/ansible-test-get-pip.py --pip-version); do \
	  install -m 0644 scripts/ansible-test-get-pip.py ~/.ansible/test/cache/get_pip_$${v//./_}.py; done
	cd $(SANITY_ROOT) && $(BIN)/ansible-test sanity --color $(if $(CI),no,yes) \
	  --python 3.11 --requirements --local
	@# modules also run on RHEL 9's Python 3.9: compile them with a real 3.9 when there is one
	@py39=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.9*/bin 2>/dev/null | tail -n 1); \
	if [ -n "$$py39" ]; then \
	  echo "==> ansible-test sanity --test compile --python 3.9 (modules run on RHEL 9's Python)"; \
	  cd $(SANITY_ROOT) && PATH="$$py39:$$PATH" $(BIN)/ansible-test sanity --color $(if $(CI),no,yes) \
	    --test compile --python 3.9 --local plugins/; \
	else echo "==> no Python 3.9 here: modules were compiled with 3.11 only"; fi

.PHONY: unit
unit: deps ## pytest unit tests (modules, templates, promtool rule tests)
	$(PYTEST) tests/unit

# The real programs of the tests and the lab, fetched or built once per machine and cached
# ($$DOJO_LAB_CACHE, default /var/cache/dojo-kafka-lab; tests/support/artifacts.py). The Kafka
# image is a debootstrap tree: root, like the lab.
.PHONY: artifacts
artifacts: deps ## Apache Kafka + the OTel Java agent (mvn), the OTel Collector (ocb), cAdvisor, the Kafka image
	$(LAB_SUDO) $(BIN)/python tests/support/artifacts.py build

.PHONY: integration
integration: deps ## pytest integration tests against real Kafka, the real Collector, Prometheus, Alertmanager
	$(BIN)/python tests/support/artifacts.py build kafka otelcol
	@# the tests mostly wait on servers: one worker per core (pytest-xdist), each with its own servers
	$(PYTEST) -n $$(nproc) tests/integration

.PHONY: lab
lab: deps ## the three-host lab: molecule scenario (converge, idempotence, verify)
	ANSIBLE_HOME=$(BUILD)/molecule-home $(PYTEST) tests/lab

.PHONY: test
test: ## everything CI runs, failing on the first broken stage
	@$(MAKE) deps
	@$(MAKE) lint
	@$(MAKE) sanity
	@$(MAKE) unit
	@$(MAKE) artifacts
	@$(MAKE) integration
	@$(MAKE) lab

# ---------------------------------------------------------------- the lab (begin: lab hunk)
# Three Debian trixie guests booted with systemd-nspawn (tests/support/lab/lab.py; README
# "The lab"). Needs root: the recipe runs through sudo when make is not run as root.
LAB_SUDO := $(if $(filter 0,$(shell id -u)),,sudo --preserve-env=DOJO_LAB_CACHE,DEBIAN_MIRROR)
LAB      := $(LAB_SUDO) $(BIN)/python tests/support/lab/lab.py

.PHONY: lab-up
lab-up: deps ## the local lab: (re)create broker, serverapp, monitoring and their baseline services
	$(LAB) up

.PHONY: lab-down
lab-down: $(STAMPS)/venv ## stop and remove the lab (idempotent: nothing left running or mounted)
	$(LAB) down

.PHONY: lab-status
lab-status: $(STAMPS)/venv ## show the lab's guests
	$(LAB) status

.PHONY: demo
demo: deps ## the main job: lab up, site.yml, verification, a summary (the lab stays up: make lab-down)
	$(LAB_SUDO) $(BIN)/python tests/support/lab/demo.py

.PHONY: bench-lab bench
bench-lab: deps ## lab timings: cold lab-up, converge, idempotent re-run (one table)
	$(LAB_SUDO) $(BIN)/python tests/support/lab/bench_lab.py
# make bench also prints the lab timings (the benchmarks' own recipe is elsewhere)
bench: bench-lab
# ---------------------------------------------------------------- (end: lab hunk)

.PHONY: build
build: deps ## build dojo-kafka_observability-<version>.tar.gz into build/
	$(BIN)/ansible-galaxy collection build --force --output-path $(BUILD) .

.PHONY: clean
clean: ## remove build products (keeps the venv and the cached lab trees)
	rm -rf $(BUILD)/sanity $(BUILD)/*.tar.gz .pytest_cache .ruff_cache

# ---------------------------------------------------------------- benchmarks (not timed tests)
# `make bench` runs every bench-* target; an area adds its own with a line `bench: bench-<area>`.
.PHONY: bench bench-kafka
bench: bench-kafka ## benchmarks: kafka_produce vs one kcat process per message (the runbook's producer.sh)

$(STAMPS)/kcat-trixie: benchmarks/fetch-kcat-trixie-kafka.sh scripts/fetch-trixie-debs.sh
	@mkdir -p $(STAMPS)
	benchmarks/fetch-kcat-trixie-kafka.sh $(BUILD)/kcat-trixie
	@touch $@

bench-kafka: deps $(STAMPS)/kcat-trixie ## kafka_produce (10,000 msgs) vs trixie's kcat, one process per message, real Apache Kafka
	$(BIN)/python tests/support/artifacts.py build kafka
	$(BIN)/python benchmarks/bench_kafka_produce.py --kcat-root $(BUILD)/kcat-trixie

# (begin: bench-probe) kafka_probe's own figures against bare kafka-python on the same broker
.PHONY: bench-probe
bench: bench-probe
bench-probe: deps ## kafka_probe: its end-to-end latency and rate vs a bare kafka-python send+poll, real Apache Kafka
	$(BIN)/python tests/support/artifacts.py build kafka
	$(BIN)/python benchmarks/bench_kafka_probe.py
# (end: bench-probe)
