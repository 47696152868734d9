# dnntrouble build.  `make` builds build/dnntrouble; see README.md for the rest.
#   make test        install missing packages, build, run every test (closing line: N passed, N failed)
#   make demo        install, build, run the quick-start pipeline on generated data
#   make bench       training throughput of the starter models (and PyTorch side by side if present)
#   make fuzz        run each libFuzzer harness for FUZZ_SECONDS (or FUZZ_RUNS executions)
#   make valgrind    every test under valgrind memcheck (errors and leaks fail the binary);
#                    JOBS=N runs N binaries at once
#   SANITIZE=1       ASan + UBSan build (in build/san)
#   WERROR=1         warnings are errors (CI)

CC      ?= cc
PREFIX  ?= /usr/local
OPT     ?= -O3
CFLAGS  ?=
CPPFLAGS_ALL = -Iinclude -I/usr/include/cjson -D_GNU_SOURCE
CFLAGS_ALL   = -std=c11 $(OPT) -g -Wall -Wextra -Wshadow -Wno-unused-parameter -MMD -MP $(CFLAGS)
LDLIBS_ALL   = -lopenblas -lcjson -lyaml -lz -lm -lpthread

# Open MPI (tune --mpi) when its mpicc is installed; MPI=0 builds without it.
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPI),0)
ifneq ($(MPICC),)
  MPI_CFLAGS := -DDT_HAVE_MPI $(shell $(MPICC) --showme:compile)
  # --as-needed: only what calls MPI (the CLI, the tune tests) loads libmpi.
  LDLIBS_ALL += -Wl,--as-needed $(shell $(MPICC) --showme:link) -Wl,--no-as-needed
endif
endif
ifeq ($(MPI),0)
  $(info note: building without Open MPI (MPI=0): tune --mpi is off)
else ifeq ($(MPI_CFLAGS),)
  $(info note: building without Open MPI (tune --mpi): apt-get install openmpi-bin libopenmpi-dev, then make)
endif

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

.PHONY: all deps test demo bench fuzz valgrind install clean FORCE
all: $(BIN)

# The ops' and the optimizer's hot loops call sqrtf and use float selects: without errno and
# with FP traps assumed off (the default environment; no result changes: this is not
# -ffast-math) GCC can vectorise them.
$(BUILD)/obj/src/ops/%.o $(BUILD)/obj/src/optim/%.o: CFLAGS_ALL += -fno-math-errno -fno-trapping-math

# Rebuilt when MPI support comes or goes (the flags are in the stamp).
$(BUILD)/obj/src/stages/tune_mpi.o: CFLAGS_ALL += $(MPI_CFLAGS)
$(BUILD)/obj/src/stages/tune_mpi.o: $(BUILD)/mpi.flags
$(BUILD)/mpi.flags: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MPI_CFLAGS)' | cmp -s - $@ || echo '$(MPI_CFLAGS)' > $@
FORCE:

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

test:
	@sh tools/install-deps.sh test
	@$(MAKE) --no-print-directory $(BIN) $(TEST_BIN)
	@sh tests/run-tests.sh $(BUILD) $(TEST_BIN)

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) run examples/quickstart.yaml

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	@sh tools/bench.sh $(BIN)

# Memcheck: any error, or a definite/indirect leak, makes the binary fail (exit 99).
VALGRIND ?= valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect
valgrind: deps
	@command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)"; exit 1; }
	@$(MAKE) --no-print-directory $(BIN) $(TEST_BIN)
	@DT_UNDER_VALGRIND=1 JOBS=$(JOBS) RUNNER="$(VALGRIND)" sh tests/run-tests.sh $(BUILD) $(TEST_BIN)

FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
fuzz: deps
	@FUZZ_RUNS=$(FUZZ_RUNS) sh tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_SRC)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/dnntrouble

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
