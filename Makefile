# Makefile — the front door. CMake does the building; this file installs what is missing,
# configures, and strings the test runs together (README.md, docs/testing.md).
#
#   make run             set up, build into build/, train examples/mlp.nn (EXAMPLE=...)
#   make test            set up, build, the whole ctest suite, then the sanitizer build's
#                        suite (build-asan) and a bounded fuzz run (build-fuzz)
#   make check           build and the ctest suite only (no sanitizers, no fuzzing)
#   make asan            the suite under ASan + UBSan (build-asan, Debug)
#   make fuzz            FUZZ_SECONDS (60) of libFuzzer on the front end, then
#                        FUZZ_FILE_SECONDS (30) on the runtime's file readers, then
#                        FUZZ_PROG_SECONDS (20) on generated train programs (build-fuzz)
#   make update-goldens  rewrite every golden file from the current nnc; review the diff
#   make clean           remove the build folders
#
# NNC_WERROR=OFF turns -Werror off (it is on, as in CI); CMAKE_ARGS adds configure flags.

SHELL        := /bin/bash
JOBS         ?= $(shell nproc)
BUILD        ?= build
EXAMPLE      ?= examples/mlp.nn
FUZZ_SECONDS ?= 60
FUZZ_FILE_SECONDS ?= 30
FUZZ_PROG_SECONDS ?= 20
NNC_WERROR   ?= ON
CMAKE_ARGS   ?=

# Tests run two at a time (-j), each program with OpenMP threads (oneDNN's, and the split
# kernels'). OpenMP's idle workers spin for a long while by default, which is fastest for
# one program alone and ruinous for two sharing the cores (a golden LeNet epoch took 135 s
# instead of 6): the suite runs with a short spin. It changes timing only, never results
# (docs/testing.md).
TEST_ENV := GOMP_SPINCOUNT=$(or $(GOMP_SPINCOUNT),10000)

# Sanitizer findings end the process with a report; UBSan prints where.
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
                 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Extra ctest arguments for the sanitizer run (executables link the instrumented runtime
# with the sanitizer flags recorded in build-asan/runtime/link-flags.txt).
ASAN_CTEST_ARGS ?=

.PHONY: all setup configure build run check test asan fuzz update-goldens clean

all: build

setup:
	@bash scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD) -DNNC_WERROR=$(NNC_WERROR) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/nnc run $(EXAMPLE)

check: build
	cd $(BUILD) && $(TEST_ENV) ctest --output-on-failure -j$(JOBS)

# One step after the other (not prerequisites), so `make -j test` keeps this order and
# a failure stops before the slower stages.
test: check
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory fuzz

asan: setup
	cmake -S . -B build-asan -DNNC_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	      -DNNC_WERROR=$(NNC_WERROR) $(CMAKE_ARGS)
	cmake --build build-asan -j$(JOBS)
	cd build-asan && $(SANITIZER_ENV) $(TEST_ENV) ctest --output-on-failure -j$(JOBS) $(ASAN_CTEST_ARGS)

fuzz: setup
	bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_FILE_SECONDS) $(FUZZ_PROG_SECONDS)

# run, tokens, ast, ir and err tests write their goldens; aot and eval then compare
# against the fresh .out files (they never write).
update-goldens: build
	cd $(BUILD) && $(TEST_ENV) UPDATE=1 ctest -L golden -LE '^(aot|eval)$$' -j$(JOBS) --output-on-failure
	cd $(BUILD) && $(TEST_ENV) ctest -L '^(aot|eval)$$' -j$(JOBS) --output-on-failure

clean:
	rm -rf $(BUILD) build-asan build-fuzz
