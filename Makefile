# dnntrouble build.  `make` builds build/dnntrouble; see README.md for the rest.
#   make test        install missing packages, build, run every test (closing line: N passed, N failed)
#   make demo        install, build, run the quick-start pipeline on generated data
#   make bench       training throughput of the starter models (and PyTorch side by side if present)
#   make fuzz        run each libFuzzer harness for FUZZ_SECONDS
#   SANITIZE=1       ASan + UBSan build (in build/san)
#   WERROR=1         warnings are errors (CI)

CC      ?= cc
PREFIX  ?= /usr/local
OPT     ?= -O3
CFLAGS  ?=
CPPFLAGS_ALL = -Iinclude -I/usr/include/cjson -D_GNU_SOURCE
CFLAGS_ALL   = -std=c11 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter -MMD -MP $(CFLAGS)
LDLIBS_ALL   = -lopenblas -lcjson -lyaml -lz -lm -lpthread

BUILD := build
ifeq ($(SANITIZE),1)
  BUILD := build/san
  CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS    += -fsanitize=address,undefined
endif
ifeq ($(WERROR),1)
  CFLAGS_ALL += -Werror
endif

LIB_SRC  := $(sort $(shell find src -name '*.c' ! -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
LIB      := $(BUILD)/libdnntrouble.a
BIN      := $(BUILD)/dnntrouble

.PHONY: all deps deps-test test demo bench fuzz install clean
all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# --whole-archive: every stage links, whatever weak fallbacks the archive holds.
$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(CLI_OBJ) -Wl,--whole-archive $(LIB) -Wl,--no-whole-archive -o $@ $(LDLIBS_ALL)

# A test file may ask for extra link flags with a line "// LDFLAGS: ...".
$(BUILD)/tests/%: tests/%.c $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) -Itests $(CFLAGS_ALL) $(LDFLAGS) $< $(SUPPORT_OBJ) $(LIB) -o $@ \
	  $$(sed -n 's|^// LDFLAGS: ||p' $<) -lcmocka $(LDLIBS_ALL)

deps:
	@sh tools/install-deps.sh

# The tests also use python3-torch (the PyTorch trajectory tests; they skip without it).
deps-test:
	@sh tools/install-deps.sh test

test: deps-test
	@$(MAKE) --no-print-directory $(BIN) $(TEST_BIN)
	@sh tests/run-tests.sh $(BUILD) $(TEST_BIN)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run examples/quickstart.yaml

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh tools/bench.sh $(BIN)

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@sh tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_SRC)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dnntrouble

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
