# The two commands of the README: `make demo` and `make test`. Both install what is missing,
# build, then do their work. BUILD_DIR and JOBS may be overridden.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
MOEVIT := $(BUILD_DIR)/moevit
DEMO_DIR ?= runs/demo
DATA_DIR ?= data/fmnist
# make fuzz SECONDS=N: each fuzz target for N seconds, in its own clang build (docs/reliability.md).
SECONDS ?= 60
FUZZ_DIR ?= build-fuzz
SANITIZE_DIR ?= build-sanitize

.PHONY: setup configure build test demo fuzz sanitize format clean

setup:
	./scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && OMP_NUM_THREADS=1 ctest --output-on-failure -j $(JOBS)

demo: build
	./scripts/demo.sh $(MOEVIT) $(DATA_DIR) $(DEMO_DIR)

fuzz:
	JOBS=$(JOBS) ./scripts/fuzz.sh $(SECONDS) $(FUZZ_DIR)

# The suite built with AddressSanitizer + UBSan, in its own folder (docs/reliability.md).
sanitize:
	JOBS=$(JOBS) ./scripts/sanitize.sh $(SANITIZE_DIR)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR)
