#!/usr/bin/env bash
# The fuzzers: builds Fuzz/ (every Linecard module instrumented for libFuzzer and
# AddressSanitizer, in .build-fuzz/) and runs libFuzzer on each parser of outside bytes for
# FUZZ_SECONDS seconds (60 by default), starting from Fuzz/corpus and Fuzz/regressions.
# A crash, a trap, a leak of gigabytes or a hang fails; the input that did it is kept in
# .build-fuzz/artifacts/ (add it to Fuzz/regressions/ once the parser is mended).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/opt/swift/usr/bin"
seconds=${FUZZ_SECONDS:-60}
targets=(wav tiff call-list form json)

swift build --package-path Fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -use-ld=lld 2>&1 \
    | grep -v "Cannot export local symbol" || true
binary=.build-fuzz/debug/linecard-fuzz
[ -x "$binary" ] || { echo "fuzz: the fuzzers did not build" >&2; exit 1; }

mkdir -p .build-fuzz/artifacts
failed=0
for target in "${targets[@]}"; do
    work=.build-fuzz/corpus/$target
    log=.build-fuzz/$target.log
    mkdir -p "$work"
    # Swift's own crash backtracer and AddressSanitizer's must not both handle a crash.
    if SWIFT_BACKTRACE=enable=no LINECARD_FUZZ_TARGET=$target "$binary" "$work" "Fuzz/corpus/$target" "Fuzz/regressions/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=16384 \
        -artifact_prefix=".build-fuzz/artifacts/$target-" -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $target: ${runs:-?} inputs in $seconds s, no failure"
    else
        echo "fuzz $target: FAILED; the end of $log:"
        grep -v "^\s*$" "$log" | tail -30
        failed=1
    fi
done
exit $failed
