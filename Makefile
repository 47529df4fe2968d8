# Two commands on a fresh Debian 12 machine with Swift installed:
#   make demo   the main job on the simulated card
#   make test   the whole test suite
# Both install the Debian packages they need first.

SWIFT ?= swift
export PATH := $(PATH):/opt/swift/usr/bin

.PHONY: demo test deps bench clean

deps:
	@Tools/scripts/install-dependencies.sh

demo: deps
	$(SWIFT) run linecard-demo

# The ring stress test runs again under ThreadSanitizer (in its own build folder), then the
# whole suite runs; its summary is the last thing printed.
test: deps
	$(SWIFT) build --build-tests --scratch-path .build-tsan --sanitize=thread
	$(SWIFT) test --skip-build --scratch-path .build-tsan --sanitize=thread --disable-swift-testing --filter RingStressTests
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

bench: deps
	$(SWIFT) run -c release linecard-bench engine
	$(SWIFT) run -c release linecard-bench paced --channels 240 --seconds 60

clean:
	rm -rf .build .build-tsan
