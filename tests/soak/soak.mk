# The soak (tests/soak/): the real gateway under a mixed load against the bench's echo
# peer, its memory and open files sampled; fails on any 5xx, reset, wrong answer, lost or
# duplicated event, or clear growth. Included by the top Makefile.
#
#   make soak                 SOAK_SECONDS (default 300) of it, with a table over time,
#                             then soak-ws
#   make soak-short           30 s of it: part of make test
#   make soak-ws              the WebSocket bridge's 100 MB transfers each way, every byte
#                             checked, SOAK_WS_ROUNDS (50: 10 GB) times (test_ws_flow)

SOAK_SECONDS ?= 300
SOAK_WS_ROUNDS ?= 50

.PHONY: soak soak-short soak-bins soak-ws

soak-bins: $(BUILD)/sockgate $(BUILD)/bench/echo_server

soak:
	@scripts/ensure-deps.sh build wasm
	@$(MAKE) --no-print-directory soak-bins
	@node tests/soak/soak.js $(BUILD)/sockgate $(BUILD)/bench/echo_server $(SOAK_SECONDS)
	@$(MAKE) --no-print-directory soak-ws

soak-short: soak-bins
	@node tests/soak/soak.js $(BUILD)/sockgate $(BUILD)/bench/echo_server 30

soak-ws:
	@scripts/ensure-deps.sh build test
	@$(MAKE) --no-print-directory $(BUILD)/sockgate $(BUILD)/tests/test_ws_flow
	SOCKGATE_BIN=$(BUILD)/sockgate WS_SOAK_ROUNDS=$(SOAK_WS_ROUNDS) $(BUILD)/tests/test_ws_flow
