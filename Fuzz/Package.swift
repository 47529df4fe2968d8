// swift-tools-version: 6.0
// The fuzzers: one libFuzzer binary over the parsers of outside bytes, the whole package
// (Linecard and its dependencies) built with coverage and AddressSanitizer. `make fuzz` builds
// and runs it; it is a package of its own so that the ordinary build never sees the fuzzer.
import PackageDescription

let package = Package(
    name: "LinecardFuzz",
    dependencies: [.package(name: "Linecard", path: "..")],
    targets: [
        .target(name: "CFuzzDriver"),
        .executableTarget(
            name: "linecard-fuzz",
            dependencies: ["CFuzzDriver", .product(name: "LinecardFuzzTargets", package: "Linecard")]),
    ],
    swiftLanguageModes: [.v6]
)
