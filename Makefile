# Two commands on a fresh Debian 12 machine with Swift installed:
#   make run    the main job: the gateway daemon on the simulated card (127.0.0.1:8155)
#   make test   the whole test suite
# Both install the Debian packages they need first. `make demo` places one call and exits.

SWIFT ?= swift
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: run demo test test-dahdi fuzz deps bench bench-gateway bench-scaling clean

deps:
	@Tools/scripts/install-dependencies.sh

run: deps
	$(SWIFT) run linecard-gateway $(ARGS)

demo: deps
	$(SWIFT) run linecard-demo

# The ring stress test runs again under ThreadSanitizer (in its own build folder), the DAHDI
# backend tests run against the real DAHDI driver in a QEMU guest (Tools/dahdi-guest), then
# the whole suite runs; its summary is the last thing printed.
test: deps
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --skip-build --scratch-path .build-tsan --sanitize=thread --disable-swift-testing --filter RingStressTests
	$(SWIFT) build --build-tests
	Tools/dahdi-guest/run.sh
	$(SWIFT) test --skip-build --disable-swift-testing

# The DAHDI backend tests alone, against the real driver in a QEMU guest (part of `make test`).
test-dahdi: deps
	$(SWIFT) build --build-tests
	Tools/dahdi-guest/run.sh

# The fuzzers: every parser of outside bytes under libFuzzer and AddressSanitizer, FUZZ_SECONDS
# (60) each, from the seed corpus in Fuzz/ (CI runs this beside `make test`).
fuzz: deps
	Tools/scripts/fuzz.sh

bench: deps
	$(SWIFT) run -c release linecard-bench engine
	$(SWIFT) run -c release linecard-bench paced --channels 240 --seconds 60

bench-gateway: deps
	$(SWIFT) build -c release --product linecard-gateway
	python3 Benchmarks/gateway/load.py --gateway .build/release/linecard-gateway

# One box on SQLite against one, two and three boxes sharing a PostgreSQL queue (docs/SCALING.md).
bench-scaling: deps
	$(SWIFT) build -c release --product linecard-gateway
	python3 Benchmarks/gateway/scaling.py --gateway .build/release/linecard-gateway

clean:
	rm -rf .build .build-tsan .build-fuzz
