# sockgate build.
#   make            build build/sockgate and the console assets (build/web)
#   make run        install what is missing, build, start on 127.0.0.1:8080
#   make test       install what is missing, build, run every test: plain and ASan/UBSan
#   make bench      benchmarks (tests/bench), fuzz: libFuzzer harnesses for a bounded time
#   make install    PREFIX (/usr/local) and DESTDIR as usual: bin/sockgate, bin/sockgate-jsl
#   make soak       the gateway under a mixed load for SOAK_SECONDS (300), sampled, and the
#                   WebSocket bridge's 100 MB transfers SOAK_WS_ROUNDS (50) times (tests/soak)
# A variant build goes to its own folder: `make BUILD=build/asan SAN=1`.

BUILD ?= build
SAN ?=
CC ?= cc

CFLAGS_BASE := -std=gnu11 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -D_GNU_SOURCE
# The layers, enforced by each folder's include path (see ARCHITECTURE.md): engine/ sees
# only its own headers and no HTTP or JSON library; server/ sees engine/ and server/;
# web/'s C (the JSL parser) sees only web/. Tests see everything.
# scripts/check-layers.sh, run by make test, names a line that crosses them.
INC_ENGINE := -Iengine $(shell pkg-config --cflags libcares gnutls 2>/dev/null)
INC_SERVER := -Iserver -Iengine \
	$(shell pkg-config --cflags libmicrohttpd libcjson libcares gnutls 2>/dev/null)
INC_WEB := -Iweb
INC_TEST := -Iengine -Iserver -Iweb \
	$(shell pkg-config --cflags libmicrohttpd libcjson libcares gnutls 2>/dev/null)
ifeq ($(SAN),1)
CFLAGS_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
LDFLAGS_SAN := -fsanitize=address,undefined
else
CFLAGS_OPT := -O2 -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDFLAGS_SAN :=
endif
CFLAGS ?=
override CFLAGS := $(CFLAGS_BASE) $(CFLAGS_OPT) $(CFLAGS)
LDLIBS_SERVER := $(shell pkg-config --libs libmicrohttpd libcjson libcares gnutls 2>/dev/null) -lwslay -lm
LDLIBS_TEST := $(shell pkg-config --libs cmocka 2>/dev/null)

ENGINE_SRC := $(wildcard engine/*.c)
SERVER_SRC := $(filter-out server/main.c,$(wildcard server/*.c))
WEB_C_SRC := $(wildcard web/*.c)
ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
WEB_C_OBJ := $(WEB_C_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/%)
INTEG_LIB_SRC := $(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c))
INTEG_LIB_OBJ := $(INTEG_LIB_SRC:%.c=$(BUILD)/obj/%.o)
# SHIM_LIBS, the fault tests' LD_PRELOAD shims: named here, before the rules that need them.
include tests/shim/shim.mk

.PHONY: all deps run test test-native test-asan test-bins clean
all: $(BUILD)/sockgate web

# Set V=1 to see whole command lines.
Q := $(if $(V),,@)

$(BUILD)/obj/engine/%.o: LAYER_INC := $(INC_ENGINE)
$(BUILD)/obj/server/%.o: LAYER_INC := $(INC_SERVER)
$(BUILD)/obj/web/%.o: LAYER_INC := $(INC_WEB)
$(BUILD)/obj/tests/%.o: LAYER_INC := $(INC_TEST)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LAYER_INC) -MMD -MP -c $< -o $@

# server/openapi.c builds the API's description into the binary (.incbin).
$(BUILD)/obj/server/openapi.o: server/openapi.json

# libengine.a is the engine alone; the JSL parser is web's own library.
$(BUILD)/libengine.a: $(ENGINE_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libweb.a: $(WEB_C_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libserver.a: $(SERVER_OBJ)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/sockgate: $(BUILD)/obj/server/main.o $(BUILD)/libserver.a $(BUILD)/libengine.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $(filter %.o %.a,$^) $(LDLIBS_SERVER)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libserver.a $(BUILD)/libengine.a $(BUILD)/libweb.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -MMD -MP -Itests/unit $(LDFLAGS_SAN) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_SERVER) $(LDLIBS_TEST)
$(BUILD)/tests/%: tests/integration/%.c $(INTEG_LIB_OBJ) $(BUILD)/libserver.a $(BUILD)/libengine.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) $(INC_TEST) -MMD -MP -Itests/integration $(LDFLAGS_SAN) -o $@ $(filter %.c %.o %.a,$^) $(LDLIBS_SERVER) $(LDLIBS_TEST)

deps:
	@scripts/ensure-deps.sh build test wasm browser api

run:
	@scripts/ensure-deps.sh build wasm
	@$(MAKE) --no-print-directory all
	$(BUILD)/sockgate --listen 127.0.0.1:8080

# Every test, first on the optimised build and then on the sanitizer build.
test:
	@scripts/ensure-deps.sh build test wasm browser api
	@$(MAKE) --no-print-directory test-native
	@$(MAKE) --no-print-directory test-asan

# The C tests (unit and integration) on the optimised build, then the console's node
# and browser tests, then a replay of every fuzzing corpus and regression input.
test-native: all $(UNIT_BIN) $(INTEG_BIN) $(SHIM_LIBS)
	@scripts/check-layers.sh $(BUILD)
	@scripts/check-layers.sh --self-test
	@scripts/run-tests.sh $(BUILD) $(UNIT_BIN) $(INTEG_BIN)
	@tests/readme/walkthrough.sh $(BUILD)/sockgate
	@tests/readme/walkthrough_tls.sh $(BUILD)/sockgate
	@$(MAKE) --no-print-directory soak-short
	@$(MAKE) --no-print-directory web-test
	@$(MAKE) --no-print-directory api-test
	@$(MAKE) --no-print-directory fuzz-regress

# The same C tests on a build with AddressSanitizer and UBSan, server included.
test-asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test-bins
	@scripts/run-tests.sh build/asan $(UNIT_BIN:$(BUILD)/%=build/asan/%) $(INTEG_BIN:$(BUILD)/%=build/asan/%)

test-bins: $(BUILD)/sockgate $(UNIT_BIN) $(INTEG_BIN) $(SHIM_LIBS)

clean:
	rm -rf build

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the gateway, sockgate-jsl and the
# console's files they load (web/ beside each binary) in $(PREFIX)/lib/sockgate, and both
# commands in $(PREFIX)/bin as links there (each finds its web/ through the link).
PREFIX ?= /usr/local
INSTALL_LIB = $(DESTDIR)$(PREFIX)/lib/sockgate
INSTALL_BIN = $(DESTDIR)$(PREFIX)/bin
.PHONY: install uninstall
install: all
	install -d $(INSTALL_BIN) $(INSTALL_LIB)/web
	install -m 755 $(BUILD)/sockgate $(BUILD)/sockgate-jsl $(INSTALL_LIB)/
	install -m 644 $(BUILD)/web/* $(INSTALL_LIB)/web/
	ln -sfn ../lib/sockgate/sockgate $(INSTALL_BIN)/sockgate
	ln -sfn ../lib/sockgate/sockgate-jsl $(INSTALL_BIN)/sockgate-jsl

uninstall:
	rm -f $(INSTALL_BIN)/sockgate $(INSTALL_BIN)/sockgate-jsl
	rm -rf $(INSTALL_LIB)

# Each part that has its own rules keeps them next to its code.
-include web/web.mk
-include tests/bench/bench.mk
-include tests/fuzz/fuzz.mk
-include tests/soak/soak.mk
-include tests/api/api.mk
-include docker.mk

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
