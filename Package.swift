// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "Linecard",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "LinecardDSP", targets: ["LinecardDSP"]),
        .library(name: "LinecardCore", targets: ["LinecardCore"]),
        .library(name: "LinecardEngine", targets: ["LinecardEngine"]),
        .library(name: "SimulatedCard", targets: ["SimulatedCard"]),
        .library(name: "AlsaCard", targets: ["AlsaCard"]),
        .library(name: "DahdiCard", targets: ["DahdiCard"]),
        // ISDN call control over libpri, which is GPL-2.0: a program that does not use ISDN
        // does not link this library, nor libpri.
        .library(name: "LinecardISDN", targets: ["LinecardISDN"]),
        .library(name: "LinecardCards", targets: ["LinecardCards"]),
        .library(name: "Linecard", targets: ["Linecard"]),
        .library(name: "NumberProvider", targets: ["NumberProvider"]),
        .library(name: "LinecardGateway", targets: ["LinecardGateway"]),
        // The parsers of outside bytes as functions of the bytes, for the fuzzers in Fuzz/.
        .library(name: "LinecardFuzzTargets", targets: ["LinecardFuzzTargets"]),
        .executable(name: "linecard-demo", targets: ["linecard-demo"]),
        .executable(name: "linecard-bench", targets: ["linecard-bench"]),
        .executable(name: "linecard-gateway", targets: ["linecard-gateway"]),
        .executable(name: "linecard", targets: ["linecard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C boundaries: system libraries found through pkg-config.
        .systemLibrary(
            name: "CSpanDSP", path: "Sources/CSpanDSP", pkgConfig: "spandsp",
            providers: [.apt(["libspandsp-dev", "libtiff-dev"])]),
        .systemLibrary(
            name: "CAlsa", path: "Sources/CAlsa", pkgConfig: "alsa",
            providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(
            name: "CTiff", path: "Sources/CTiff", pkgConfig: "libtiff-4",
            providers: [.apt(["libtiff-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CEspeak", path: "Sources/CEspeak", pkgConfig: "espeak-ng",
            providers: [.apt(["libespeak-ng-dev"])]),
        .systemLibrary(
            name: "CSampleRate", path: "Sources/CSampleRate", pkgConfig: "samplerate",
            providers: [.apt(["libsamplerate0-dev"])]),
        .systemLibrary(
            name: "CSndFile", path: "Sources/CSndFile", pkgConfig: "sndfile",
            providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(
            name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        // No pkg-config file: the module map links libpri itself.
        .systemLibrary(name: "CLibPri", path: "Sources/CLibPri", providers: [.apt(["libpri-dev"])]),
        // The DAHDI userspace ABI, written from the documented x86_64 facts.
        .target(name: "CDahdi", path: "CDahdi"),

        // The DTMF detector's per-sample arithmetic, optimised in every build (the tests run
        // hours of signal through it).
        .target(name: "CDTMFKernel", cSettings: [.unsafeFlags(["-O2"])]),
        // One reach into spandsp's private fax structures: its receivers' carrier level.
        .target(name: "CFaxFrontEnd", dependencies: ["CSpanDSP"]),
        .target(name: "LinecardDSP", dependencies: ["CSpanDSP", "CDTMFKernel", "CFaxFrontEnd"]),
        // The card backend contract (ports, line events, hook commands, card errors) and the
        // SPSC primitives, depending on nothing: a card driver needs this alone.
        .target(name: "LinecardCore"),
        .target(
            name: "LinecardEngine",
            dependencies: ["LinecardCore", "LinecardDSP", .product(name: "Logging", package: "swift-log")]),
        .target(name: "SimulatedCard", dependencies: ["LinecardEngine", "LinecardDSP"]),
        .target(name: "AlsaCard", dependencies: ["LinecardCore", "CAlsa"]),
        .target(
            name: "DahdiCard",
            dependencies: ["LinecardCore", "CDahdi", .product(name: "SystemPackage", package: "swift-system")]),
        .target(
            name: "Linecard",
            dependencies: [
                "LinecardEngine", "LinecardDSP", "CTiff", "CSpanDSP", "CSndFile", "CSampleRate",
                .product(name: "SystemPackage", package: "swift-system"),
            ]),

        // ISDN call control (libpri) for B-channel ports, and the simulated exchange's network side.
        .target(
            name: "LinecardISDN",
            dependencies: ["Linecard", "LinecardCore", "LinecardEngine", "SimulatedCard", "DahdiCard", "CLibPri",
                           .product(name: "SystemPackage", package: "swift-system")]),
        // The one description of which card to open, for the gateway and the tool.
        .target(name: "LinecardCards", dependencies: ["Linecard", "LinecardEngine", "LinecardDSP", "SimulatedCard", "DahdiCard", "AlsaCard", "LinecardISDN"]),
        .target(
            name: "LinecardGateway",
            dependencies: [
                "Linecard", "LinecardCards", "LinecardEngine", "SimulatedCard", "DahdiCard", "AlsaCard", "LinecardISDN", "LinecardCore", "NumberProvider", "CSQLite", "CEspeak", "CSampleRate",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]),
        .target(name: "NumberProvider"),
        .target(name: "LinecardFuzzTargets", dependencies: ["Linecard", "LinecardGateway"]),
        .executableTarget(
            name: "linecard",
            dependencies: [
                "NumberProvider", "Linecard", "LinecardCards", "LinecardDSP", "LinecardEngine", "SimulatedCard", "AlsaCard", "DahdiCard", "CDahdi", "CPNG", "CSpanDSP", "LinecardISDN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/linecard"),
        .executableTarget(
            name: "linecard-gateway",
            dependencies: [
                "LinecardGateway", "LinecardCards",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/linecard-gateway"),

        .executableTarget(
            name: "linecard-demo",
            dependencies: [
                "LinecardEngine", "SimulatedCard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Tools/linecard-demo"),

        // Benchmarks: a plain C loop over spandsp as the baseline, and the engine beside it.
        .target(name: "CBaseline", dependencies: ["CSpanDSP"], path: "Benchmarks/CBaseline"),
        // The ISDN benchmark's baseline: two libpri controllers in a plain C loop.
        .target(name: "CIsdnBaseline", dependencies: ["CLibPri"], path: "Benchmarks/CIsdnBaseline"),
        .executableTarget(
            name: "linecard-bench",
            dependencies: [
                "CBaseline", "CIsdnBaseline", "LinecardEngine", "SimulatedCard", "Linecard", "LinecardISDN", "LinecardCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/linecard-bench"),

        // Test support: counts heap allocations per thread by interposing malloc.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        // Runs the package's executables as processes, for the tool tests here and in the DAHDI guest.
        .target(name: "ToolRunner", path: "Tests/ToolRunner"),
        .testTarget(name: "CDahdiTests", dependencies: ["CDahdi"]),
        .testTarget(name: "LinecardDSPTests", dependencies: ["LinecardDSP", "CAlsa", "CTiff"]),
        .testTarget(
            name: "LinecardEngineTests",
            dependencies: ["LinecardEngine", "SimulatedCard", "AllocationCounter"]),
        .testTarget(name: "SimulatedCardTests", dependencies: ["SimulatedCard", "LinecardEngine"]),
        // XrunPlugin is C the test compiles into an ALSA plugin at run time.
        .testTarget(name: "AlsaCardTests", dependencies: ["AlsaCard", "LinecardEngine"], exclude: ["XrunPlugin"]),
        // Runs for real inside the QEMU guest of Tools/dahdi-guest/run.sh; skips elsewhere.
        .testTarget(name: "DahdiCardTests", dependencies: ["DahdiCard", "CDahdi", "CSpanDSP", "Linecard", "LinecardEngine", "LinecardISDN", "AllocationCounter", "ToolRunner"]),
        .testTarget(name: "LinecardTests", dependencies: ["Linecard", "SimulatedCard", "LinecardEngine", "LinecardDSP"]),
        .testTarget(name: "IsdnTests", dependencies: ["LinecardISDN", "Linecard", "SimulatedCard", "LinecardEngine", "LinecardCards"]),
        // Runs the tools as processes; depending on them makes `swift build --build-tests` build them.
        .testTarget(name: "ToolTests", dependencies: ["linecard-demo", "linecard", "linecard-bench", "Linecard", "ToolRunner"]),
        .testTarget(
            name: "GatewayTests",
            dependencies: ["LinecardGateway", "Linecard", "linecard-gateway", .product(name: "Logging", package: "swift-log")],
            exclude: ["voicent.py"]),
        // Runs the fuzzers' seed corpus and every input that once broke a parser.
        .testTarget(name: "FuzzRegressionTests", dependencies: ["LinecardFuzzTargets"]),
        .testTarget(
            name: "NumberProviderTests",
            dependencies: [
                "NumberProvider", "linecard", "linecard-gateway",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)
