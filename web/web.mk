# The browser console: its assets are copied to $(BUILD)/web, which the server serves at
# /, next to sockgate_wasm.js, the WebAssembly build of the JSL parser and the codec
# (web/jsl_*.c, engine/codec.c) made by Debian's emcc. Included by the top Makefile.
#
#   make web        build $(BUILD)/web and $(BUILD)/sockgate-jsl
#   make web-test   node tests of the wasm module, the JSL interpreter and sockgate-jsl,
#                   and browser tests in real Chromium (these start $(BUILD)/sockgate,
#                   so build it first)

# The page, and the JSL interpreter it shares with sockgate-jsl (node).
WEB_JSL := jsl.js jsl_values.js jsl_format.js jsl_eval.js jsl_builtins_core.js \
	jsl_builtins_text.js jsl_sockets.js jsl_runner.js jsl_node.js
WEB_ASSETS := index.html console.css console.js console_log.js console_panels.js \
	console_editor.js console_examples.js stream_view.js favicon.svg $(WEB_JSL)
WEB_OUT := $(WEB_ASSETS:%=$(BUILD)/web/%)
WEB_WASM := $(BUILD)/web/sockgate_wasm.js
WEB_WASM_BIN := $(BUILD)/web/sockgate_wasm.wasm
WEB_WASM_SRC := $(wildcard web/jsl_*.c) \
	engine/codec.c

EMCC ?= emcc
# Debian's emcc runs JavaScript tools that need acorn from /usr/share/nodejs.
EMCC_ENV := NODE_PATH=/usr/share/nodejs
WEB_WASM_EXPORTS := _malloc,_free,_jsl_parse,_jsl_work_size
WEB_WASM_EXPORTS := $(WEB_WASM_EXPORTS),_codec_encode,_codec_decode,_codec_encoded_max
WEB_WASM_EXPORTS := $(WEB_WASM_EXPORTS),_codec_decoded_max,_codec_encoding_from_name
# A CommonJS-or-global loader script beside its .wasm, which works under node and in
# the page. Not -sSINGLE_FILE: this emcc then fetches a data: URL, which the page's CSP
# (connect-src 'self') refuses; the separate .wasm is fetched from 'self' instead.
# No -I: each file finds its own headers beside it (the parser's in web/, codec.h in
# engine/), so the wasm build sees only what it compiles; an include across the layers
# fails here as it does in the native build.
EMCC_FLAGS := -O2 -std=gnu11 -Wall -Wextra -Werror \
	-sMODULARIZE=1 -sEXPORT_NAME=SockgateWasm -sENVIRONMENT=web,node \
	-sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sDYNAMIC_EXECUTION=0 \
	-sEXPORTED_FUNCTIONS=$(WEB_WASM_EXPORTS)

WEB_TEST_DIR := tests/web
WEB_NODE_MODULES := $(WEB_TEST_DIR)/node_modules/.package-lock.json

.PHONY: web web-test web-test-node web-test-browser

web: $(WEB_OUT) $(WEB_WASM) $(WEB_WASM_BIN) $(BUILD)/sockgate-jsl

# sockgate-jsl runs JSL scripts under node with the same interpreter and wasm; it loads
# them from the web folder beside it ($(BUILD)/web).
$(BUILD)/sockgate-jsl: web/sockgate-jsl.js
	@mkdir -p $(dir $@)
	cp $< $@
	chmod +x $@

$(WEB_OUT): $(BUILD)/web/%: web/%
	@mkdir -p $(dir $@)
	cp $< $@

$(WEB_WASM) $(WEB_WASM_BIN) &: $(WEB_WASM_SRC) web/jsl_parser.h web/jsl_internal.h \
		engine/codec.h web/web.mk
	@mkdir -p $(dir $(WEB_WASM))
	$(EMCC_ENV) $(EMCC) $(EMCC_FLAGS) $(WEB_WASM_SRC) -o $(WEB_WASM)

# playwright-core is the only npm dependency; it drives the system's Chromium and never
# downloads a browser of its own.
$(WEB_NODE_MODULES): $(WEB_TEST_DIR)/package.json $(WEB_TEST_DIR)/package-lock.json
	cd $(WEB_TEST_DIR) && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

web-test: web $(WEB_NODE_MODULES)
	SOCKGATE_BUILD=$(BUILD) node --test $(WEB_TEST_DIR)/*.test.js

# The node half: the wasm module, the JSL interpreter against the real gateway, and
# sockgate-jsl. The browser half: the page in Chromium.
WEB_TESTS_BROWSER := $(wildcard $(WEB_TEST_DIR)/*.browser.test.js)
WEB_TESTS_NODE := $(filter-out $(WEB_TESTS_BROWSER),$(wildcard $(WEB_TEST_DIR)/*.test.js))

web-test-node: web
	SOCKGATE_BUILD=$(BUILD) node --test $(WEB_TESTS_NODE)

web-test-browser: web $(WEB_NODE_MODULES)
	SOCKGATE_BUILD=$(BUILD) node --test $(WEB_TESTS_BROWSER)
