import Foundation
import Linecard
import ToolRunner
import XCTest

/// `linecard` run as a process against the simulated card: output and exit status,
/// including bad input (one line, non-zero, no stack trace).
final class LinecardToolTests: XCTestCase {
    func testListShowsEveryPort() throws {
        let (status, out) = try run(["list", "--json"])
        XCTAssertEqual(status, 0, out)
        let listing = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let ports = listing["ports"] as? [[String: Any]] ?? []
        XCTAssertEqual(ports.map { $0["kind"] as? String }, ["FXO", "FXO", "FXO", "FXO", "FXS", "FXS"])
        XCTAssertEqual(listing["blockSize"] as? Int, 160)
    }

    func testCallPrintsStateChangesAndExitsByOutcome() throws {
        var (status, out) = try run(["call", "0", "200", "--hold", "1"])
        XCTAssertEqual(status, 0, out)
        for state in ["CALL_OUTGOING", "RING_OUTGOING", "ANSWERED", "IDLE"] { XCTAssertTrue(out.contains(state), out) }
        XCTAssertTrue(out.contains("answered (LIVE)"), out)
        (status, out) = try run(["call", "0", "300"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("not answered: BUSY (busy tone)"), out)
        (status, out) = try run(["call", "0", "700", "--json", "--hold", "4"])
        XCTAssertEqual(status, 0, out)
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(result["farEnd"] as? String, "ANSWER_MACHINE")
    }

    func testCallOnASimulatedE1PrintsTheQ850Cause() throws {
        var (status, out) = try run(["call", "0", "200", "--card", "sim:e1", "--country", "uk", "--hold", "0.5"])
        XCTAssertEqual(status, 0, out)
        for state in ["CALL_OUTGOING", "RING_OUTGOING", "ANSWERED", "IDLE"] { XCTAssertTrue(out.contains(state), out) }
        (status, out) = try run(["call", "0", "300", "--card", "sim:e1"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("not answered: BUSY (cause 17: user busy)"), out)
        (status, out) = try run(["isdn", "status", "--card", "sim:e1", "--json"])
        XCTAssertEqual(status, 0, out)
        let spans = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        XCTAssertEqual(spans.first?["dChannelUp"] as? Bool, true)
        XCTAssertEqual((spans.first?["bChannels"] as? [Any])?.count, 30)
        (status, out) = try run(["isdn", "trace", "--card", "sim:bri", "--call", "500"])
        XCTAssertEqual(status, 1)
        for message in ["Message Type: SETUP (5)", "Message Type: RELEASE COMPLETE (90)", "Called Party Number", "'500'"] {
            XCTAssertTrue(out.contains(message), out)
        }
        XCTAssertTrue(out.contains("not answered: UNOBTAINABLE (cause 1: unallocated (unassigned) number)"), out)
        (status, out) = try run(["isdn", "status", "--card", "sim"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("has no ISDN span"), out)
        (status, out) = try run(["call", "0", "200", "--card", "sim:e2"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(out.contains("e1, t1, bri and bri-ptmp"), out)
    }

    /// One B-channel calls another across the simulated BRI: tone, echo, DTMF and a fax page
    /// over ISDN, as over analog lines.
    func testSelftestAcrossASimulatedBRI() throws {
        let (status, out) = try run(["selftest", "--card", "sim:bri", "--from", "0", "--to", "1"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("pass  fax page"), out)
        XCTAssertTrue(out.contains("selftest passed"), out)
    }

    func testDTMFGenerateDetectAndSend() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dtmf-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var (status, out) = try run(["dtmf", "generate", "0123456789ABCD*#", "--output", file, "--level", "-20", "--twist", "3", "--on", "60", "--off", "60"])
        XCTAssertEqual(status, 0, out)
        (status, out) = try run(["dtmf", "detect", "--input", file, "--json"])
        XCTAssertEqual(status, 0, out)
        let digits = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        XCTAssertEqual(digits.compactMap { $0["digit"] as? String }.joined(), "0123456789ABCD*#")
        let starts = digits.compactMap { $0["start"] as? Double }
        XCTAssertEqual(starts.first ?? 0, 0.1, accuracy: 0.03, "100 ms of silence first")
        XCTAssertEqual((starts.last ?? 0) - (starts.first ?? 0), 15 * 0.12, accuracy: 0.03, "120 ms per digit")
        (status, out) = try run(["dtmf", "detect", "0", "--seconds", "6"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("4 digits: 1234"), "200 presses 1234 after answering: \(out)")
        (status, out) = try run(["dtmf", "send", "0", "159#"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("heard back: 159#"), out)
    }

    func testMonitorReportsLevelsAndRecords() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString).wav").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, out) = try run(["monitor", "0", "--seconds", "2", "--interval", "0.25", "--record", file, "--json"])
        XCTAssertEqual(status, 0, out)
        let readings = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(readings.count, 7)
        let loudest = readings.compactMap { $0["receive"] as? Double }.max() ?? -99
        XCTAssertGreaterThan(loudest, -30, "the far end's digits are heard")
        let transmitted = readings.compactMap { $0["transmit"] as? Double }.max() ?? -99
        XCTAssertGreaterThan(transmitted, -30, "our digits are sent")
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
    }

    func testPlotDrawsAPNGOfAFileOrAChannel() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("plot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let wav = folder.appendingPathComponent("d.wav").path, png = folder.appendingPathComponent("d.png").path
        _ = try run(["dtmf", "generate", "159", "--output", wav])
        var (status, out) = try run(["plot", "--input", wav, "--output", png])
        XCTAssertEqual(status, 0, out)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: png)))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG file")
        let height = bytes[20...23].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(height, 256 + 4 + 96, "spectrogram, margin, level strip")
        (status, out) = try run(["plot", "0", "--seconds", "1", "--output", folder.appendingPathComponent("line.png").path])
        XCTAssertEqual(status, 0, out)
        // About a second: the recording starts as the call's first digits go out.
        let seconds = out.range(of: #"[0-9.]+(?= s of audio)"#, options: .regularExpression).flatMap { Double(out[$0]) } ?? 0
        XCTAssertEqual(seconds, 1.0, accuracy: 0.1, out)
        for (arguments, message) in [(["plot", "--output", png], "give a CHANNEL or --input"),
                                     (["plot", "--input", "/etc/hostname", "--output", png], "not a usable WAV file"),
                                     (["plot", "--input", wav, "--output", "/nonexistent/d.png"], "cannot write /nonexistent/d.png")] {
            let (status, out) = try run(arguments)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(out.contains(message), "\(arguments): \(out)")
        }
    }

    func testBenchRunsTheEngineBenchmark() throws {
        let (status, out) = try run(["bench", "engine", "--channels", "8", "--seconds", "1", "--runs", "1", "--blocks", "160", "--json"])
        XCTAssertEqual(status, 0, out)
        let line = try XCTUnwrap(out.split(separator: "\n").first { $0.hasPrefix("{") })
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertNotNil(result["ratio"] as? Double, out)
        XCTAssertEqual(result["digits_engine"] as? Int, result["digits_baseline"] as? Int, "both paths detect every digit")
    }

    func testTonePlaysForItsDuration() throws {
        var (status, out) = try run(["tone", "0", "ringback_uk", "--duration", "1.5"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("played RINGBACK_UK for 1.5"), out)
        (status, out) = try run(["tone", "0", "WHISTLE"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(out.contains("no tone WHISTLE"), out)
    }

    func testSelftestPassesOnTheSimulatedExchange() throws {
        let (status, out) = try run(["selftest"])
        XCTAssertEqual(status, 0, out)
        for line in ["pass  test tone level", "pass  signal to noise", "pass  echo return loss", "pass  DTMF round trip",
                     "pass  fax page", "selftest passed"] {
            XCTAssertTrue(out.contains(line), "missing \(line) in \(out)")
        }
    }

    func testTimingReportsPassesAndASummary() throws {
        let (status, out) = try run(["timing", "--seconds", "2"])
        let passes = out.split(separator: "\n").filter { $0.contains("system clock sample intervals") }
        XCTAssertEqual(passes.count, 2, out)
        XCTAssertTrue(out.contains("--- best"), out)
        // The mark is 99.99 %: the exit status says whether this machine met it.
        XCTAssertEqual(status == 0, out.contains("PASS"), out)
    }

    func testBadInputIsOneLineAndNonZero() throws {
        let notWAV = FileManager.default.temporaryDirectory.appendingPathComponent("not-\(UUID().uuidString).wav").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: notWAV))
        defer { try? FileManager.default.removeItem(atPath: notWAV) }
        for (arguments, message) in [
            (["call", "9", "200"], "no channel 9"),
            (["dtmf", "detect", "--input", notWAV], "not a usable WAV file"),
            (["dtmf", "detect", "--input", "/nonexistent.wav"], "/nonexistent.wav"),
            (["dtmf", "detect"], "give a CHANNEL or --input"),
            (["dtmf", "generate", "12x", "--output", "/tmp/x.wav"], "DIGITS must be"),
            (["call", "5", "200", "--card", "alsa:null"], "no channel 5: this card has channels 0 to 0"),
            (["list", "--card", "alsa:"], "names no device"),
            (["list", "--card", "pots"], "is not a card"),
            (["call", "0", "12a"], "dial only"),
        ] {
            let (status, out) = try run(arguments)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(out.contains(message), "\(arguments): \(out)")
            XCTAssertFalse(out.contains("Fatal error") || out.contains("Backtrac"), out)
        }
    }

    /// Files made to break readers: a cut-short WAVE_FORMAT_EXTENSIBLE header, a WAV header over
    /// 2 GiB of samples, a TIFF page of ten million rows. Each is one line, never a crash or an
    /// allocation of gigabytes.
    func testHostileFilesAreOneLineErrors() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func le(_ v: Int, _ bytes: Int) -> [UInt8] { (0..<bytes).map { UInt8(v >> (8 * $0) & 0xFF) } }
        let short = folder.appendingPathComponent("short.wav").path
        try Data(Array("RIFF".utf8) + le(32, 4) + Array("WAVEfmt ".utf8) + le(40, 4) + le(0xFFFE, 2) + le(1, 2) + le(8000, 4)
                 + le(16000, 4) + le(2, 2) + le(16, 2) + le(22, 2) + le(16, 2)).prefix(40).write(to: URL(fileURLWithPath: short))
        let huge = folder.appendingPathComponent("huge.wav").path
        let size = (1 << 31) - 44
        try Data(Array("RIFF".utf8) + le(size + 36, 4) + Array("WAVEfmt ".utf8) + le(16, 4) + le(1, 2) + le(1, 2) + le(8000, 4)
                 + le(16000, 4) + le(2, 2) + le(16, 2) + Array("data".utf8) + le(size, 4)).write(to: URL(fileURLWithPath: huge))
        XCTAssertEqual(truncate(huge, off_t(size + 44)), 0)
        // A one-page TIFF whose page claims 10,000,000 rows (G4, 16 bytes of data).
        let tall = folder.appendingPathComponent("tall.tif").path
        let entries: [(Int, Int, Int)] = [(256, 4, 1728), (257, 4, 10_000_000), (258, 3, 1), (259, 3, 4), (262, 3, 0),
                                          (273, 4, 8 + 2 + 9 * 12 + 4), (277, 3, 1), (278, 4, 10_000_000), (279, 4, 16)]
        var tiff = Array("II".utf8) + le(42, 2) + le(8, 4) + le(entries.count, 2)
        for (tag, type, value) in entries { tiff += le(tag, 2) + le(type, 2) + le(1, 4) + le(value, 4) }
        tiff += le(0, 4) + [UInt8](repeating: 0, count: 16)
        try Data(tiff).write(to: URL(fileURLWithPath: tall))
        let notTIFF = folder.appendingPathComponent("letter.tif").path
        try Data("not a tiff".utf8).write(to: URL(fileURLWithPath: notTIFF))

        for (arguments, message) in [
            (["dtmf", "detect", "--input", short], "short.wav is not a usable WAV file"),
            (["plot", "--input", short, "--output", folder.appendingPathComponent("p.png").path], "short.wav is not a usable WAV file"),
            (["dtmf", "detect", "--input", huge], "at most 3600 s is read"),
            (["fax", "send", "0", "800", tall], "has 10000000 rows: a fax page has at most 16384"),
            (["fax", "send", "0", "800", notTIFF], "error: \(notTIFF) is not a TIFF file"),
        ] {
            let (status, out) = try run(arguments)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(out.contains(message), "\(arguments): \(out)")
            XCTAssertEqual(out.split(separator: "\n").count, 1, "one line: \(out)")
            XCTAssertFalse(out.contains("Fatal error") || out.contains("failed to allocate") || out.contains("Error: Error"), out)
        }
    }

    func testFaxSendAndReceiveEndNormallyAndRefuseBadInput() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-fax-tool-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let page = folder.appendingPathComponent("page.tif").path
        var black = [Bool](repeating: false, count: 1728 * 200)
        for i in stride(from: 0, to: black.count, by: 11) { black[i] = true }
        try FaxDocument.write([FaxDocument.Page(height: 200, black: black), FaxDocument.Page(height: 200, black: black)], to: page)
        var (status, out) = try run(["fax", "send", "0", "800", page])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("NORMAL: 2 page(s)"), out)
        XCTAssertTrue(out.contains("14400 bit/s"), out)
        let received = folder.appendingPathComponent("in.tif").path
        (status, out) = try run(["fax", "receive", "2", received, "--test-call", page, "--json"])
        XCTAssertEqual(status, 0, out)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(report["cause"] as? String, "NORMAL")
        XCTAssertEqual(report["pages"] as? Int, 2)
        XCTAssertEqual(try FaxDocument.read(received).map(\.black), [black, black])
        (status, out) = try run(["fax", "send", "0", "200", page])
        XCTAssertEqual(status, 1, "a person answers: NOTFAX")
        XCTAssertTrue(out.contains("NOTFAX"), out)
        for (arguments, message) in [
            (["fax", "send", "0", "800", folder.appendingPathComponent("none.tif").path], "no file"),
            (["fax", "send", "0", "800", "/etc/hostname"], "not a TIFF file"),
            (["fax", "send", "0", "800", page, "--option", "v34=YES"], "UNKNOWN_OPTION"),
            (["fax", "send", "0", "800", page, "--option", "ECM"], "NAME=VALUE"),
        ] {
            let (status, out) = try run(arguments)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(out.contains(message), "\(arguments): \(out)")
            XCTAssertFalse(out.contains("Fatal error") || out.contains("Backtrac"), out)
            XCTAssertEqual(out.split(separator: "\n").filter { $0.contains("rror") }.count, 1, out)
        }
    }

    func testListShowsALSADevicesAndWhetherTheyOpen() throws {
        let (status, out) = try run(["list", "--card", "alsa:nosuchdevice", "--json"])
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("(capture): cannot open it"), "the state says what failed: \(out)")
        XCTAssertTrue(out.contains("\"kind\" : \"clear\""), out)
    }

    /// The channel subcommands run on hardware too: here an ALSA clear port (alsa-lib's null
    /// device, silent and unclocked) is connected at once, and DAHDI, absent on this machine,
    /// is a one-line error saying why.
    func testSubcommandsReachHardwareCards() throws {
        var (status, out) = try run(["call", "0", "", "--card", "alsa:null", "--hold", "0.5", "--json"])
        XCTAssertEqual(status, 0, out)
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual((result["steps"] as? [[String: Any]])?.compactMap { $0["state"] as? String }, ["ANSWERED", "IDLE"],
                       "a clear port is a standing connection: answered at once")
        (status, out) = try run(["monitor", "0", "--card", "alsa:null", "--seconds", "1", "--json"])
        XCTAssertEqual(status, 0, out)
        XCTAssertLessThan((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first?["receive"] as? Double ?? 0, -60)
        let page = FileManager.default.temporaryDirectory.appendingPathComponent("tool-page-\(getpid()).tif").path
        defer { try? FileManager.default.removeItem(atPath: page) }
        try FaxDocument.write([FaxDocument.Page(height: 20, black: [Bool](repeating: false, count: 1728 * 20))], to: page)
        (status, out) = try run(["fax", "receive", "0", "/tmp/never.tif", "--card", "alsa:null", "--test-call", page])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("error: --test-call works on the simulated card only (--card sim)"), out)
        guard !FileManager.default.fileExists(atPath: "/dev/dahdi/ctl") else { return }
        for arguments in [["list", "--card", "dahdi"], ["call", "9", "200", "--card", "dahdi"], ["timing", "--card", "dahdi"]] {
            (status, out) = try run(arguments)
            XCTAssertEqual(status, 1, "\(arguments)")
            XCTAssertTrue(out.contains("error: --card dahdi: /dev/dahdi/ctl does not exist: the DAHDI kernel modules are not loaded"), "\(arguments): \(out)")
            XCTAssertEqual(out.split(separator: "\n").count, 1, out)
        }
    }

    private func run(_ arguments: [String]) throws -> (Int32, String) {
        try runTool("linecard", arguments)
    }
}
