# The two commands a new user runs:
#   make run    install dependencies, build, start hearth
#   make test   install dependencies, build, run every test (what CI runs)

JOBS        ?= $(shell nproc)
BUILD       ?= build
BUILD_ASAN  ?= build-asan
BUILD_FUZZ  ?= build-fuzz
BUILD_WASM  ?= build-wasm
FUZZ_SECONDS ?= 40
HEARTH_FIXTURES ?= $(abspath ../shared/fixtures)
export HEARTH_FIXTURES
HEARTH_MODEL ?= qwen2.5-0.5b
PORT        ?= 8000

.PHONY: all deps build wasm-build run test test-release test-e2e test-asan test-wasm fuzz format tidy clean web-dist

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# The engine for the browser (/browser, docs/wasm.md) when emscripten is installed; hearth
# serves it from build-wasm/ (beside build/). Without emcc it says so and builds nothing.
wasm-build:
	@if command -v emcc >/dev/null 2>&1; then \
	  emcmake cmake -S wasm -B $(BUILD_WASM) -G Ninja -DCMAKE_BUILD_TYPE=Release && \
	  cmake --build $(BUILD_WASM) -j $(JOBS); \
	else \
	  echo "hearth: emcc not found, so no in-browser engine (/browser): apt-get install emscripten (docs/wasm.md)"; \
	fi

# Starts the background service on http://127.0.0.1:$(PORT)/ (the web app; the API under
# /v1) and loads $(HEARTH_MODEL) (a catalog alias or a .gguf path), downloading it on first
# use. When it cannot be fetched (offline, nothing cached), it loads the bundled demo model
# models/tinystories-260k.gguf instead and says so, so the chat works either way.
DEMO_MODEL := $(abspath models/tinystories-260k.gguf)
run: build wasm-build
	@if [ -f '$(HEARTH_MODEL)' ] || ./$(BUILD)/hearth model download $(HEARTH_MODEL); then \
	  model='$(HEARTH_MODEL)'; \
	else \
	  echo "hearth: could not fetch $(HEARTH_MODEL) now ('hearth model download $(HEARTH_MODEL)' fetches it later);"; \
	  echo "hearth: serving the bundled demo model tinystories-260k instead (it writes tiny stories, it does not follow instructions)"; \
	  model='$(DEMO_MODEL)'; \
	fi; \
	./$(BUILD)/hearth service start --port $(PORT) && \
	{ ./$(BUILD)/hearth model load "$$model" || \
	  echo "hearth: the service runs without a model; 'hearth model download $(HEARTH_MODEL)' fetches one"; }; \
	./$(BUILD)/hearth service status || true; \
	echo "hearth: chat in a browser at http://127.0.0.1:$(PORT)/, or try './$(BUILD)/hearth model run $$model'; './$(BUILD)/hearth service stop' stops the service"

# Each phase prints when it ends, so a CI log shows where the time goes.
test: deps
	$(MAKE) test-release
	@echo "make test: test-release done at $$(date -u +%T)"
	$(MAKE) test-e2e
	@echo "make test: test-e2e done at $$(date -u +%T)"
	$(MAKE) test-wasm
	@echo "make test: test-wasm done at $$(date -u +%T)"
	$(MAKE) test-webgpu
	@echo "make test: test-webgpu done at $$(date -u +%T)"
	$(MAKE) test-asan
	@echo "make test: test-asan done at $$(date -u +%T)"
	$(MAKE) fuzz
	@echo "make test: fuzz done at $$(date -u +%T)"

# The server end to end through the official openai npm client, and the web app and the
# in-browser engine in chromium (browser_engine.test.mjs needs the wasm build: wasm-build makes
# it first; only a machine without emcc skips that test, saying why).
test-e2e: build wasm-build
	cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error
	cd tests/e2e && HEARTH_BINARY=$(abspath $(BUILD))/hearth HEARTH_WASM_BUILD=$(abspath $(BUILD_WASM)) \
	  node --test --test-concurrency=1

# The engine compiled to WebAssembly (Debian's emscripten: apt-get install emscripten) and run
# in node against the shared references (docs/wasm.md); the references again on the threaded
# build (hearth_wasm_mt) with 2 threads per session.
test-wasm: deps
	emcmake cmake -S wasm -B $(BUILD_WASM) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_WASM) -j $(JOBS)
	HEARTH_WASM_BUILD=$(abspath $(BUILD_WASM)) node --test wasm/test/reference.test.mjs \
	  wasm/test/nlc.test.mjs wasm/test/tokenizer.test.mjs wasm/test/template.test.mjs \
	  wasm/test/kernels.test.mjs wasm/test/hearth_api.test.mjs wasm/test/threads.test.mjs \
	  wasm/test/high_heap.test.mjs
	HEARTH_WASM_BUILD=$(abspath $(BUILD_WASM)) HEARTH_WASM_THREADS=2 node --test \
	  wasm/test/reference.test.mjs wasm/test/nlc.test.mjs wasm/test/high_heap.test.mjs

# The wasm build's WebGPU path in headless chromium on SwiftShader (docs/webgpu.md);
# puppeteer-core comes from tests/e2e's packages.
.PHONY: test-webgpu
test-webgpu: deps
	emcmake cmake -S wasm -B $(BUILD_WASM) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_WASM) -j $(JOBS)
	test -d tests/e2e/node_modules/puppeteer-core || (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
	HEARTH_WASM_BUILD=$(abspath $(BUILD_WASM)) node --test wasm/test/webgpu.test.mjs

# The built web app as an archive for a release: unpacked beside the sources, it builds hearth
# with its app where node is not installed (cmake -DHEARTH_WEB_DIST=$$PWD/web-dist, docs/web.md).
web-dist: build
	tar -C $(BUILD)/src/web/app -czf $(BUILD)/hearth-web-dist.tar.gz --transform 's,^dist,web-dist,' dist
	@echo "$(BUILD)/hearth-web-dist.tar.gz"

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer (-O1, see CMakeLists).
# Without the microbenchmarks, and with the web app the release build already made (its
# TypeScript tests ran there): what is built twice is only what runs twice.
WEB_DIST_BUILT = $(wildcard $(abspath $(BUILD))/src/web/app/dist/index.html)
test-asan: deps
	cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEARTH_SANITIZE=ON \
	  -DHEARTH_BENCH=OFF $(if $(WEB_DIST_BUILT),-DHEARTH_WEB_DIST=$(dir $(WEB_DIST_BUILT)))
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# Every fuzz target for a bounded time, seeded with the fixtures.
fuzz: deps
	cmake -S . -B $(BUILD_FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-16 -DHEARTH_FUZZ=ON -DHEARTH_TESTS=OFF -DHEARTH_BENCH=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target gguf_fuzz tokenizer_fuzz template_fuzz http_request_fuzz
	./scripts/run-fuzzers.sh $(BUILD_FUZZ) $(FUZZ_SECONDS)

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: $(BUILD)/build.ninja
	git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ) $(BUILD_WASM)
