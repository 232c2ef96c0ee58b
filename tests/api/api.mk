# Tests of sockgate from outside (tests/api): the OpenAPI description against a validator
# and against the real server's answers, promtool on /metrics, the scale-out test (three
# gateways behind Debian's HAProxy, then nginx), and the files in deploy/. Included by the
# top Makefile; node's test runner, with npm packages pinned in tests/api/package-lock.json.
#
#   make api-test        (needs $(BUILD)/sockgate; make test runs it)

API_TEST_DIR := tests/api
API_NODE_MODULES := $(API_TEST_DIR)/node_modules/.package-lock.json

.PHONY: api-test

$(API_NODE_MODULES): $(API_TEST_DIR)/package.json $(API_TEST_DIR)/package-lock.json
	cd $(API_TEST_DIR) && npm ci --no-audit --no-fund
	@touch $@

api-test: $(BUILD)/sockgate $(API_NODE_MODULES)
	SOCKGATE_BUILD=$(BUILD) node --test $(API_TEST_DIR)/*.test.js
