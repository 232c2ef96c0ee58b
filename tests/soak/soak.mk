# The soak (tests/soak/): the real gateway under a mixed load against the bench's echo
# peer, its memory and open files sampled; fails on any 5xx, reset, wrong answer, lost or
# duplicated event, or clear growth. Included by the top Makefile.
#
#   make soak                 SOAK_SECONDS (default 300) of it, with a table over time
#   make soak-short           30 s of it: part of make test

SOAK_SECONDS ?= 300

.PHONY: soak soak-short soak-bins

soak-bins: $(BUILD)/sockgate $(BUILD)/bench/echo_server

soak:
	@scripts/ensure-deps.sh build wasm
	@$(MAKE) --no-print-directory soak-bins
	@node tests/soak/soak.js $(BUILD)/sockgate $(BUILD)/bench/echo_server $(SOAK_SECONDS)

soak-short: soak-bins
	@node tests/soak/soak.js $(BUILD)/sockgate $(BUILD)/bench/echo_server 30
