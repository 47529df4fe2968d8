import AlsaCard
import Foundation
import LinecardEngine
import XCTest

/// The ALSA backend through the real libasound code path, without hardware: an ALSA
/// configuration of the test's own defines a `file` PCM over a `null` one, so capture reads
/// a file the test wrote and playback writes a file the test reads back.
final class AlsaCardTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-alsa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func configuration(in input: String, out output: String) -> String {
        """
        pcm.codec { type file slave.pcm "quiet" file "\(output)" infile "\(input)" format "raw" }
        pcm.quiet { type null }
        """
    }

    func testSamplesRoundTripThroughLibasound() throws {
        let input = folder.appendingPathComponent("in.raw").path, output = folder.appendingPathComponent("out.raw").path
        // Two seconds of a 1 kHz tone with a ramp on it, so that any slip shows.
        let sent = (0..<16_000).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 8000)) &+ Int16($0 % 97) }
        try sent.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: input)) }
        let card = try AlsaCard(devices: ["codec"], configuration: configuration(in: input, out: output))
        XCTAssertEqual(card.ports.map(\.kind), [.clear])
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: 160))
        try engine.open(port: 0)
        // The port sends back what it hears.
        try engine.submit(EngineCommand(port: 0, .listen(to: 0)))
        try engine.runTicks(100)
        engine.shutdown()
        let data = try Data(contentsOf: URL(fileURLWithPath: output))
        let written = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        // Playback starts with the two periods of silence queued at open, and the first tick
        // went out before the loop was set up.
        guard let start = written.firstIndex(where: { $0 != 0 }) else { return XCTFail("nothing was played") }
        let echoed = Array(written[start...])
        let offset = try XCTUnwrap(sent.firstIndex(of: echoed[0]), "the first sample played is one the capture read")
        XCTAssertGreaterThan(echoed.count, 10_000)
        XCTAssertEqual(Array(echoed.prefix(10_000)), Array(sent[offset ..< offset + 10_000]), "samples came back unchanged and in order")
        XCTAssertEqual(card.xruns(port: 0).overruns, 0)
        XCTAssertEqual(card.xruns(port: 0).underruns, 0)
    }

    /// alsa-lib's file and null plugins keep no time, so they never overrun or underrun. The
    /// test builds a small ALSA plugin of its own (XrunPlugin/lcxrun.c: no hardware, one xrun
    /// on purpose in each direction) and loads it through the same configuration mechanism.
    func testAnInducedXrunIsRecoveredAndCounted() throws {
        guard let compiler = ["/usr/bin/cc", "/usr/bin/gcc"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail("no C compiler to build the xrun plugin with") }
            throw XCTSkip("no C compiler to build the xrun plugin with")
        }
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("XrunPlugin/lcxrun.c").path
        let library = folder.appendingPathComponent("libasound_module_pcm_lcxrun.so").path
        let build = Process()
        build.executableURL = URL(fileURLWithPath: compiler)
        build.arguments = ["-shared", "-fPIC", "-DPIC", "-o", library, source, "-lasound"]
        try build.run()
        build.waitUntilExit()
        XCTAssertEqual(build.terminationStatus, 0, "the xrun plugin did not build")
        let card = try AlsaCard(devices: ["xrun"], configuration: """
            pcm_type.lcxrun { lib "\(library)" }
            pcm.xrun { type lcxrun }
            """)
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: 160))
        try engine.open(port: 0)
        var reported: [String] = []
        try engine.runTicks(60) { event in
            if case .line(let signal, _) = event.kind { reported.append("\(signal)") }
        }
        engine.shutdown()
        let counts = card.xruns(port: 0)
        XCTAssertEqual(counts.overruns, 1, "the capture overrun, recovered")
        XCTAssertEqual(counts.underruns, 1, "the playback underrun, recovered")
        XCTAssertTrue(reported.contains("readOverrun") && reported.contains("writeUnderrun"), "\(reported)")
    }

    func testBadDevicesAndConfigurationsAreClearErrors() throws {
        let input = folder.appendingPathComponent("in.raw").path
        try Data().write(to: URL(fileURLWithPath: input))
        let card = try AlsaCard(devices: ["nosuchpcm"], configuration: configuration(in: input, out: folder.appendingPathComponent("o.raw").path))
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: 160))
        XCTAssertThrowsError(try engine.open(port: 0)) {
            XCTAssertTrue("\($0)".contains("ALSA device \"nosuchpcm\" (capture): cannot open it"), "\($0)")
        }
        XCTAssertThrowsError(try AlsaCard(devices: ["x"], configuration: "pcm.x { type")) {
            XCTAssertTrue("\($0)".contains("the ALSA configuration is not valid"), "\($0)")
        }
        XCTAssertThrowsError(try AlsaCard(devices: [])) { XCTAssertTrue("\($0)".contains("at least one device")) }
    }
}
