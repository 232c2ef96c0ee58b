# libFuzzer harnesses: tests/fuzz/fuzz_<name>.c, built with clang into $(BUILD)/fuzz/.
#   make fuzz                 fuzz every harness for FUZZ_SECONDS (default 60) each
#   make fuzz-<name>          fuzz one harness (make fuzz-codec FUZZ_SECONDS=300)
#   make fuzz-regress         replay each harness's corpus and regressions once, no fuzzing
# A harness with a tests/fuzz/<name>.dict fuzzes with that libFuzzer dictionary of tokens.
# A harness fuzzes from a scratch copy of tests/fuzz/corpus/<name>/ under $(BUILD)/fuzz/,
# so the repository is never modified; crashes land in $(BUILD)/fuzz/artifacts/<name>/.
# Keep each crash input, once fixed, in tests/fuzz/regressions/<name>/ for fuzz-regress.

# ---- Per harness: the sources it links besides its own file, and optional extras. ------
# Declare these here, above the rules, for each new harness:
#   FUZZ_SRC_<name>     .c files linked into the harness (built with the fuzz flags)
#   FUZZ_CFLAGS_<name>  extra compile flags for the harness's own file
#   FUZZ_LDLIBS_<name>  extra libraries (-lm, ...)
FUZZ_SRC_codec := engine/codec.c
# args.c names commands through engine.c, which brings the rest of the engine with it.
FUZZ_SRC_args := server/args.c server/commands.c server/services.c $(wildcard engine/*.c)
FUZZ_LDLIBS_args := -lcjson -lcares -lgnutls -lm
FUZZ_SRC_policy := engine/policy.c engine/errname.c
FUZZ_SRC_path := server/path.c
FUZZ_SRC_host := server/host_check.c engine/addr.c
FUZZ_SRC_listen := server/config.c engine/addr.c
FUZZ_SRC_jsl := $(wildcard web/jsl_*.c)
FUZZ_CFLAGS_jsl := -Itests/unit
FUZZ_LDLIBS_jsl := -lcjson
# The WebSocket handshake and framer, on libwslay; SHA-1 from GnuTLS, base64 from the codec.
FUZZ_SRC_ws := server/ws_framer.c server/ws_handshake.c engine/codec.c
FUZZ_LDLIBS_ws := -lwslay -lgnutls

# ---- Rules -----------------------------------------------------------------------------
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS ?=
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

# Objects are instrumented for coverage and the sanitizers; only the link adds
# libFuzzer's main().
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -D_GNU_SOURCE \
	-Iengine -Iserver -Iweb -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

.PHONY: fuzz fuzz-regress fuzz-bins $(FUZZ_NAMES:%=fuzz-%)

fuzz-bins: $(FUZZ_BINS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

# fuzz_<name>: its binary from its own object and its FUZZ_SRC_<name>, and a target that
# fuzzes it from a scratch copy of its corpus.
define FUZZ_HARNESS
$(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o: FUZZ_CFLAGS += $(FUZZ_CFLAGS_$(1))

$(FUZZ_DIR)/fuzz_$(1): $(FUZZ_DIR)/obj/tests/fuzz/fuzz_$(1).o \
		$(FUZZ_SRC_$(1):%.c=$(FUZZ_DIR)/obj/%.o)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $$@ $$^ $(FUZZ_LDLIBS_$(1))

fuzz-$(1): $(FUZZ_DIR)/fuzz_$(1)
	@mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1)
	@if [ -d tests/fuzz/corpus/$(1) ]; then \
		cp -R tests/fuzz/corpus/$(1)/. $(FUZZ_DIR)/corpus/$(1)/; fi
	$(FUZZ_DIR)/fuzz_$(1) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ \
		$(if $(wildcard tests/fuzz/$(1).dict),-dict=tests/fuzz/$(1).dict) \
		$(FUZZ_FLAGS) $(FUZZ_DIR)/corpus/$(1)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call FUZZ_HARNESS,$(n))))

fuzz: $(FUZZ_NAMES:%=fuzz-%)

# Replay: libFuzzer runs each file named on its command line once and exits. A harness
# with no inputs is skipped, since an empty command line would start fuzzing.
fuzz-regress: $(FUZZ_BINS)
	@set -e; for n in $(FUZZ_NAMES); do \
		inputs=$$(find tests/fuzz/corpus/$$n tests/fuzz/regressions/$$n -type f \
			2>/dev/null | sort); \
		if [ -z "$$inputs" ]; then echo "fuzz-regress $$n: no inputs"; continue; fi; \
		log=$(FUZZ_DIR)/regress-$$n.log; \
		if $(FUZZ_DIR)/fuzz_$$n $$inputs >$$log 2>&1; then \
			echo "fuzz-regress $$n: $$(echo "$$inputs" | wc -l) inputs ok"; \
		else \
			cat $$log; echo "fuzz-regress $$n: FAILED (log: $$log)"; exit 1; \
		fi; \
	done

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
