# The two commands a new user runs:
#   make run    install dependencies, build, start hearth
#   make test   install dependencies, build, run every test (what CI runs)

JOBS        ?= $(shell nproc)
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
FUZZ_SECONDS ?= 60
HEARTH_FIXTURES ?= $(abspath ../shared/fixtures)
export HEARTH_FIXTURES
MODEL       ?= $(HEARTH_FIXTURES)/models/stories260K.gguf
PROMPT      ?= Once upon a time

.PHONY: all deps build run test test-release test-asan fuzz format tidy clean

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Until the server lands, `make run` shows a short generation with the fixture model.
run: build
	./$(BUILD)/hearth generate -m $(MODEL) -n 48 --temp 0 "$(PROMPT)"

test: deps
	$(MAKE) test-release
	$(MAKE) test-asan
	$(MAKE) fuzz

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (Debug-ish speed, -O1).
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_SANITIZE=ON
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# Every fuzz target for a bounded time, seeded with the fixtures.
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-16 -DHEARTH_FUZZ=ON -DHEARTH_TESTS=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target gguf_fuzz
	./scripts/run-fuzzers.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: $(BUILD)/build.ninja
	git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
