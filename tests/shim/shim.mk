# LD_PRELOAD shims for the fault tests (tests/shim/shim_<name>.c -> $(BUILD)/shim/<name>.so):
# each makes one system call fail the way the kernel can, inside the real server. Built
# without the sanitizers, which an ASan server tolerates in front of its runtime only with
# ASAN_OPTIONS=verify_asan_link_order=0 (the tests set it). Included by the top Makefile.

SHIM_SRC := $(wildcard tests/shim/shim_*.c)
SHIM_LIBS := $(SHIM_SRC:tests/shim/shim_%.c=$(BUILD)/shim/%.so)
SHIM_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -shared

$(BUILD)/shim/%.so: tests/shim/shim_%.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  SHIM    $@")
	$(Q)$(CC) $(SHIM_CFLAGS) -o $@ $< -ldl
