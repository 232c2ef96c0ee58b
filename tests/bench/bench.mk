# Benchmarks (tests/bench/): sockgate next to a baseline measured in the same run, printed
# as one table. Included by the top Makefile. Loopback only; every load is bounded in count
# and time; no pass/fail on any number.
#
#   make bench            install what is missing (wrk, nginx-light, valgrind, ...), build,
#                         run tests/bench/run.sh (about a minute)
#   make bench-profile    callgrind instruction counts per request: sockgate vs the
#                         minimal libmicrohttpd server, and sockgate's costliest functions

BENCH_DIR := $(BUILD)/bench
BENCH_BINS := $(BENCH_DIR)/bench_client $(BENCH_DIR)/echo_server $(BENCH_DIR)/mhd_baseline \
	$(BENCH_DIR)/codec_bench $(BENCH_DIR)/splice_relay
LDLIBS_MHD := $(shell pkg-config --libs libmicrohttpd 2>/dev/null)

.PHONY: bench bench-bins bench-profile

bench:
	@scripts/ensure-deps.sh build test wasm bench
	@$(MAKE) --no-print-directory bench-bins
	@tests/bench/run.sh $(BUILD)

bench-profile:
	@scripts/ensure-deps.sh build test bench
	@$(MAKE) --no-print-directory bench-bins
	@tests/bench/profile.sh $(BUILD)

bench-bins: $(BUILD)/sockgate $(WEB_WASM) $(BENCH_BINS)

# The helpers build with the project's flags; the codec bench links the server's own codec
# object, so "native" is exactly what the server runs. bench_client is one file per mode
# (echo, bulk, rate, footprint, healthz-flood) around a shared HTTP client (bench_http.c).
BENCH_CLIENT_SRC := tests/bench/bench_client.c tests/bench/bench_http.c \
	tests/bench/bench_echo.c tests/bench/bench_bulk.c tests/bench/bench_rate.c \
	tests/bench/bench_footprint.c tests/bench/bench_fair.c tests/bench/bench_stream.c \
	tests/integration/ws_client.c
BENCH_CLIENT_HDR := tests/bench/bench_client.h tests/bench/bench_http.h tests/bench/benchdata.h \
	tests/integration/ws_client.h

$(BENCH_DIR)/bench_client: $(BENCH_CLIENT_SRC) $(BENCH_CLIENT_HDR) $(BUILD)/obj/engine/codec.o
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -Itests/bench -Itests/integration -o $@ $(BENCH_CLIENT_SRC) \
		$(BUILD)/obj/engine/codec.o -lgnutls

$(BENCH_DIR)/codec_bench: tests/bench/codec_bench.c $(BUILD)/obj/engine/codec.o
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -o $@ $< $(BUILD)/obj/engine/codec.o

$(BENCH_DIR)/splice_relay: tests/bench/splice_relay.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $<

$(BENCH_DIR)/echo_server: tests/bench/echo_server.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -o $@ $<

$(BENCH_DIR)/mhd_baseline: tests/bench/mhd_baseline.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -o $@ $< $(LDLIBS_MHD) -lpthread
