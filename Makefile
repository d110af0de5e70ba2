# hwnas: plain Makefile, pkg-config for every library.
#   make          check the build's Debian packages (installed as root), build ./hwnas
#   make check    install missing Debian packages, build with -Werror, run all tests
#   make asan     the test suite under ASan + UBSan
#   make demo     profile this CPU, search fmnist under a latency budget, export
#   make bench    build the benchmarks in bench/
#   make bench-deps  install the peers bench/kernels.sh compares with (XNNPACK, PyTorch)
#   make fuzz     build libFuzzer targets (clang) into build/fuzz/
#   make fuzz-run [FUZZ_S=60]  run each target that long from its seeds; fails on any report
#   make aarch64  cross-build build/aarch64/hwnas for 64-bit ARM (NEON)
#   make check-aarch64  the kernel, network, latency and file tests under qemu-aarch64

VERSION := 0.1.0
CC ?= cc
PKGS := openblas sqlite3 libcjson check zlib libprotobuf-c
# Check and openblas pkg-config names; fall back to plain -l flags when a .pc is absent.
PC_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PC_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifeq ($(strip $(PC_LIBS)),)
PC_LIBS := -lopenblas -lsqlite3 -lcjson -lcheck -lz -lprotobuf-c
endif
# Open MPI (cluster/, the only code that includes mpi.h) is linked when
# pkg-config finds it, as after 'make deps'; MPI=0 builds without it (as the
# aarch64 build does), and hwnas then refuses to run under mpirun.
MPI ?= $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1 || echo 0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c) -DHWNAS_MPI
MPI_LIBS := $(shell pkg-config --libs ompi-c)
endif
LIBS := $(filter-out -lcheck -lcheck_pic -lsubunit,$(PC_LIBS)) $(MPI_LIBS) -lm -lpthread
TEST_LIBS := $(PC_LIBS) $(MPI_LIBS) -lm -lpthread

OPT ?= -O3 -march=native
# -Wno-psabi: nn/simd.h's static inline helpers return vectors wider than the
# target's registers when OPT lacks -march=native (asan); no ABI is crossed.
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation -Wno-missing-field-initializers -Wno-psabi
BASE_CFLAGS := -std=gnu11 -I. -fopenmp $(WARN) $(PC_CFLAGS) -DHWNAS_VERSION='"$(VERSION)"'
CFLAGS_ALL = $(BASE_CFLAGS) -I$(BUILD)/gen $(OPT) -DHWNAS_CFLAGS='"$(OPT)"' $(EXTRA_CFLAGS) $(TEST_FLAGS)
BUILD ?= build

MODULES := util space nn db latency evaluator supernet search netadapt deploy cluster
LIB_SRC := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
# The ONNX protobuf code is generated from Debian's onnx.proto (libonnx-dev)
# by protoc-c at build time; it lives in the build folder only.
ONNX_PROTO ?= /usr/include/onnx/onnx.proto
CLI_SRC := $(filter-out cli/main.c,$(wildcard cli/*.c))
TEST_SRC := $(wildcard tests/test_*.c) tests/cli_run.c tests/crash_matrix.c
BENCH_SRC := $(wildcard bench/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/run_tests.o
LIB := $(BUILD)/libhwnas.a

.PHONY: all check asan demo bench bench-deps fuzz fuzz-run clean deps test aarch64 check-aarch64 deps-aarch64

# Plain make checks the build's Debian packages first (quick when they are
# there; installs them as root, else names them in one line), then builds in a
# sub-make that sees what pkg-config finds after the install.
all:
	@sh scripts/install-deps.sh build
	@$(MAKE) --no-print-directory hwnas

deps:
	@sh scripts/install-deps.sh

bench-deps:
	@sh scripts/install-deps.sh anchors

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC $<"; $(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# A pattern rule with two targets: one protoc-c run makes both (any make, -j).
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: $(dir $(ONNX_PROTO))%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -I$(dir $(ONNX_PROTO)) $<
$(ONNX_PROTO):
	@echo "$(ONNX_PROTO) is missing: run 'make deps' (Debian libonnx-dev)"; exit 1

# Generated code: compiled without -Werror (its style is protoc-c's, not ours).
$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	@echo "CC $<"; $(CC) $(filter-out -Werror -Wextra,$(CFLAGS_ALL)) -c $< -o $@

$(BUILD)/deploy/onnx.o: $(BUILD)/gen/onnx.pb-c.h

$(BUILD)/cluster/cluster.o: CFLAGS_ALL += $(MPI_CFLAGS)
$(BUILD)/cluster/cluster.o: $(BUILD)/mpi-$(MPI).stamp
$(BUILD)/mpi-$(MPI).stamp:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/mpi-*.stamp && touch $@

# space/space.c compiles the shipped spaces in with .incbin: rebuild on edits.
$(BUILD)/space/space.o: $(wildcard spaces/*.json)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/hwnas: $(BUILD)/cli/main.o $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LIBS)

hwnas: $(BUILD)/hwnas
	cp $< $@.tmp && mv -f $@.tmp $@

# The test runner calls every suite_<module>() found in tests/test_*.c.
$(BUILD)/tests/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^Suite \*suite_[a-z0-9_]*(void)' $(TEST_SRC) | sed 's/^Suite \*\(suite_[a-z0-9_]*\)(void)/SUITE(\1)/' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

# Extra flags for the test objects only (make aarch64: gcc 12's aarch64
# vectorizer crashes on some of the tests' reduction loops).
$(TEST_OBJ): TEST_FLAGS = $(TEST_EXTRA_CFLAGS)

$(BUILD)/tests/run_tests.o: tests/run_tests.c $(BUILD)/tests/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -I$(BUILD)/tests -c $< -o $@

$(BUILD)/run_tests: $(TEST_OBJ) $(CLI_OBJ) $(LIB) $(BUILD)/hwnas
	$(CC) $(CFLAGS_ALL) -o $@ $(TEST_OBJ) $(CLI_OBJ) $(LIB) $(TEST_LIBS)

test: $(BUILD)/run_tests hwnas
	CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-120} HWNAS_BIN=$(CURDIR)/$(BUILD)/hwnas HWNAS_ROOT=$(CURDIR) $(BUILD)/run_tests

check: deps
	$(MAKE) test

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    EXTRA_CFLAGS= build-asan/run_tests build-asan/hwnas
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    CK_DEFAULT_TIMEOUT=$${CK_DEFAULT_TIMEOUT:-300} CK_TIMEOUT_MULTIPLIER=$${CK_TIMEOUT_MULTIPLIER:-2} HWNAS_BIN=$(CURDIR)/build-asan/hwnas HWNAS_ROOT=$(CURDIR) HWNAS_ASAN=1 build-asan/run_tests

BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LIBS)
# The crash matrix's driver serves the Check suite `crash` too.
$(BUILD)/bench/crash_matrix: bench/crash_matrix.c $(BUILD)/tests/crash_matrix.o $(BUILD)/tests/cli_run.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LIBS)
bench: deps $(BENCH_BIN)

DEMO_DB ?= hwnas.db
demo: deps hwnas
	sh scripts/demo.sh

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
# The arch parsers live in util/ and space/ only; linking just those keeps
# these targets independent of the heavier modules.
FUZZ_LIB_SRC := $(wildcard util/*.c space/*.c)
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(FUZZ_LIB_SRC) $(wildcard spaces/*.json)
	@mkdir -p $(dir $@)
	clang -std=gnu11 -I. -g -O1 -fsanitize=fuzzer,address,undefined $(PC_CFLAGS) \
	    -o $@ $< $(FUZZ_LIB_SRC) -lcjson -lm
# The file readers (IDX, model files, latency tables) need nn/, evaluator/ and
# latency/ too: those modules are compiled once, instrumented, into an archive
# that each of these targets links (the linker takes only the objects used).
FUZZ_HEAVY := fuzz_idx fuzz_model fuzz_lut_json fuzz_lut_csv
FUZZ_HEAVY_BIN := $(FUZZ_HEAVY:%=build/fuzz/%)
FUZZ_HEAVY_SRC := $(foreach m,util space nn evaluator latency,$(wildcard $(m)/*.c))
FUZZ_HEAVY_OBJ := $(FUZZ_HEAVY_SRC:%.c=build/fuzz/obj/%.o)
# -Wno-pass-failed: clang notes each `omp parallel for simd` it does not vectorize at -O1.
FUZZ_CFLAGS := -std=gnu11 -I. -g -O1 -fopenmp -Wno-pass-failed $(PC_CFLAGS) -DHWNAS_VERSION='"$(VERSION)"'
build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "CC (fuzz) $<"; clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined \
	    -MMD -MP -c $< -o $@
build/fuzz/obj/space/space.o: $(wildcard spaces/*.json)
build/fuzz/libhwnas-fuzz.a: $(FUZZ_HEAVY_OBJ)
	rm -f $@ && ar rcs $@ $^
$(FUZZ_HEAVY_BIN): build/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) build/fuzz/libhwnas-fuzz.a
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    build/fuzz/libhwnas-fuzz.a $(LIBS)
fuzz: deps $(FUZZ_BIN)
FUZZ_S ?= 60
fuzz-run: fuzz
	sh tests/fuzz/run.sh $(FUZZ_S) $(FUZZ_BIN)

# 64-bit ARM: Debian's cross compiler and the :arm64 -dev packages (make
# deps-aarch64 adds the architecture and installs them), NEON through the
# same GCC vector extensions as AVX on x86. The protobuf code is generated by
# the host's protoc-c.
AARCH64_CC ?= aarch64-linux-gnu-gcc
AARCH64_OPT ?= -O3 -march=armv8-a
AARCH64_SYSROOT ?= /usr/aarch64-linux-gnu
QEMU_AARCH64 ?= qemu-aarch64 -L $(AARCH64_SYSROOT)
AARCH64_SUITES ?= util space nn latency evaluator
deps-aarch64:
	@sh scripts/install-deps.sh aarch64
aarch64: deps-aarch64
	PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig \
	    $(MAKE) -j2 BUILD=build/aarch64 MPI=0 CC=$(AARCH64_CC) OPT="$(AARCH64_OPT)" EXTRA_CFLAGS= \
	    TEST_EXTRA_CFLAGS=-fno-tree-loop-vectorize \
	    build/aarch64/hwnas build/aarch64/run_tests
check-aarch64: aarch64 $(BUILD)/hwnas
	@# qemu-user 7.2 hangs here in fork() and in any guest pthread_create
	@# (posix_spawn works): Check runs the tests in-process (CK_FORK=no) and
	@# OpenMP and OpenBLAS keep to one thread (OMP_THREAD_LIMIT=1: the kernels
	@# split work by the team they are given, so results stay exact).
	@for s in $(AARCH64_SUITES); do \
	    echo "== aarch64 (qemu): suite $$s"; \
	    CK_FORK=no OMP_THREAD_LIMIT=1 OPENBLAS_NUM_THREADS=1 CK_RUN_SUITE=$$s \
	    HWNAS_RUNNER="$(QEMU_AARCH64)" \
	    HWNAS_BIN=$(CURDIR)/build/aarch64/hwnas HWNAS_ROOT=$(CURDIR) \
	    $(QEMU_AARCH64) build/aarch64/run_tests || exit 1; \
	done
	OMP_THREAD_LIMIT=1 OPENBLAS_NUM_THREADS=1 sh tests/device_workflow.sh $(CURDIR)/$(BUILD)/hwnas \
	    "$(QEMU_AARCH64)" $(CURDIR)/build/aarch64/hwnas

clean:
	rm -rf build build-asan hwnas

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(FUZZ_HEAVY_OBJ:.o=.d)
