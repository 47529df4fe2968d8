import Foundation
import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

final class WAVFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-wav-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func testRoundTripsInEachEncoding() throws {
        let tone = ToneGenerator.render(.continuous(1000, level: -10), milliseconds: 250)
        for encoding in WAVFile.Encoding.allCases {
            try WAVFile.write(tone, to: path("t.wav"), encoding: encoding)
            let back = try WAVFile.read(path("t.wav"))
            XCTAssertEqual(back.count, tone.count)
            XCTAssertEqual(PowerMeter.level(of: back), -10, accuracy: 0.3, "\(encoding)")
        }
    }

    func testOtherRatesAndStereoAreConverted() throws {
        // 250 ms of 1 kHz at 16 kHz, stereo, 16-bit, written by hand.
        var body = Data()
        for i in 0..<4000 {
            let v = Int16(10_000 * sin(2 * Double.pi * 1000 * Double(i) / 16_000))
            for _ in 0..<2 { withUnsafeBytes(of: v.littleEndian) { body.append(contentsOf: $0) } }
        }
        try wav(tag: 1, channels: 2, rate: 16_000, bits: 16, body: body).write(to: URL(fileURLWithPath: path("s.wav")))
        let samples = try WAVFile.read(path("s.wav"))
        XCTAssertEqual(samples.count, 2000)
        XCTAssertEqual(PowerMeter.level(of: Array(samples[100...])), PowerMeter.rmsToDBm0(10_000 / 2.0.squareRoot()), accuracy: 0.6)
    }

    func testBadFilesSayWhatIsWrong() throws {
        try "hello".write(toFile: path("text.wav"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try WAVFile.read(path("text.wav"))) { XCTAssertTrue("\($0)".contains("does not start with RIFF/WAVE"), "\($0)") }
        XCTAssertThrowsError(try WAVFile.read(path("missing.wav"))) { XCTAssertTrue("\($0)".hasPrefix("cannot read"), "\($0)") }
        try wav(tag: 0x11, channels: 1, rate: 8000, bits: 4, body: Data(count: 100)).write(to: URL(fileURLWithPath: path("adpcm.wav")))
        // IMA ADPCM is read (by libsndfile) when its fmt chunk is whole; this one lacks the
        // samples-per-block field.
        XCTAssertThrowsError(try WAVFile.read(path("adpcm.wav"))) { XCTAssertTrue("\($0)".contains("adpcm.wav is not a usable WAV file: Error in WAV/W64/RF64 file. Malformed 'fmt ' chunk"), "\($0)") }
        try wav(tag: 1, channels: 1, rate: 8000, bits: 16, body: Data()).write(to: URL(fileURLWithPath: path("empty.wav")))
        XCTAssertThrowsError(try WAVFile.read(path("empty.wav"))) { XCTAssertTrue("\($0)".contains("no audio"), "\($0)") }
        try wav(tag: 1, channels: 6, rate: 8000, bits: 16, body: Data(count: 120)).write(to: URL(fileURLWithPath: path("six.wav")))
        XCTAssertThrowsError(try WAVFile.read(path("six.wav"))) { XCTAssertTrue("\($0)".contains("6 channels"), "\($0)") }
    }
}

func wav(tag: Int, channels: Int, rate: Int, bits: Int, body: Data) -> Data {
    var d = Data()
    func u16(_ v: Int) { d.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]) }
    func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
    d.append(contentsOf: Array("RIFF".utf8)); u32(36 + body.count); d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16)
    u16(tag); u16(channels); u32(rate); u32(rate * channels * max(1, bits / 8)); u16(channels * max(1, bits / 8)); u16(bits)
    d.append(contentsOf: Array("data".utf8)); u32(body.count)
    return d + body
}

final class FilePlayerAndRecorderTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Port 0 calls port 1 through the exchange; both answered.
    func connectedPorts(_ bench: Bench) async throws -> (CallChannel, CallChannel) {
        let a = bench.channel(0), b = bench.channel(1)
        try a.startCall(to: bench.sim.number(ofPort: 1))
        let incoming = try await b.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming)
        _ = try await b.answer()
        let answered = await a.waitForAnswer(timeout: .seconds(5))
        XCTAssertEqual(answered, .answered)
        return (a, b)
    }

    func testAPlayedFileArrivesAtTheFarEnd() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let (a, b) = try await connectedPorts(bench)
        let digits = DTMFGenerator()
        digits.enqueue("159#")
        var audio = [Int16](repeating: 0, count: 6000)
        _ = audio.withUnsafeMutableBufferPointer { digits.generate(into: $0.baseAddress!, count: $0.count) }
        try WAVFile.write(audio, to: path("digits.wav"), encoding: .alaw)
        // Line time stands still until the play is under way, so that a stall of this
        // process before it starts (virtual time runs fast) is not counted as playing time.
        let file = path("digits.wav")
        let hold = bench.card.engine.holdClock()
        let start = bench.card.engine.lineTime
        async let played = a.filePlayer.play(file)
        while a.filePlayer.state != .playing { await Task.yield() }
        hold.cancel()
        let cause = try await played
        XCTAssertEqual(cause, .normal)
        XCTAssertEqual(seconds(bench.card.engine.lineTime - start), 0.75, accuracy: 0.1)
        let got = try await b.dtmfDetector.getDigits(count: 4, predigitsTimeout: .seconds(2))
        XCTAssertEqual(got, "159#")
        await a.hangUp()
    }

    func testLongFilesStreamWithoutGaps() async throws {
        let bench = try Bench(ringCapacity: 4096)
        defer { bench.card.shutdown() }
        let (a, b) = try await connectedPorts(bench)
        // 20 s of a steady tone through a ring of half a second: it must be refilled 40 times.
        try WAVFile.write(ToneGenerator.render(.continuous(1000, level: -12), milliseconds: 20_000), to: path("long.wav"))
        let heardPath = path("heard.wav")
        let recorder = b.fileRecorder
        // Line time stands still until both have begun, so that neither starts a virtual
        // second after the other while this process is busy.
        let hold = bench.card.engine.holdClock()
        let recording = Task { try await recorder.record(to: heardPath, timeout: .seconds(19)) }
        let longPath = path("long.wav")
        async let played = a.filePlayer.play(longPath)
        while recorder.state != .recording || a.filePlayer.state != .playing { await Task.yield() }
        hold.cancel()
        let cause = try await played
        XCTAssertEqual(cause, .normal)
        let recorded = try await recording.value
        XCTAssertEqual(recorded, .timeout)
        let heard = try WAVFile.read(heardPath)
        XCTAssertEqual(Double(heard.count) / 8000, 19, accuracy: 0.1)
        // No gap once the tone has begun: every 20 ms block has it.
        let blocks = stride(from: 0, to: heard.count - 160, by: 160).map { PowerMeter.level(of: Array(heard[$0..<$0 + 160])) > -20 }
        let first = try XCTUnwrap(blocks.firstIndex(of: true))
        let last = try XCTUnwrap(blocks.lastIndex(of: true))
        XCTAssertGreaterThan(Double(last - first) / 50, 18, "the tone fills the recording")
        let gaps = (first...last).filter { !blocks[$0] }
        XCTAssertEqual(gaps.count, 0, "silent blocks at \(gaps.prefix(5).map { Double($0) / 50 }) s")
        XCTAssertEqual(try bench.card.engine.playbackRing(port: 0).underruns, 0)
        await a.hangUp()
    }

    func testBargeInStopsThePlayOnADigit() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0)
        let answered = try await a.call(to: "200")
        XCTAssertEqual(answered, .answered)
        try WAVFile.write(ToneGenerator.render(.continuous(600, level: -15), milliseconds: 10_000), to: path("long.wav"))
        let start = bench.card.engine.lineTime
        let cause = try await a.filePlayer.play(path("long.wav"), bargeIn: true)
        XCTAssertEqual(cause, .bargeIn)
        XCTAssertEqual(a.filePlayer.cause, .bargeIn)
        XCTAssertLessThan(seconds(bench.card.engine.lineTime - start), 3)
        await a.hangUp()
    }

    func testRecorderStopsOnSilenceSizeDigitsTimeoutAndHangUp() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0)
        _ = try await a.call(to: "200")
        // The person says hello, presses 1234 a second later, then is quiet.
        let silent = try await a.fileRecorder.record(to: path("r1.wav"), silenceLimit: .seconds(2))
        XCTAssertEqual(silent, .silence)
        XCTAssertEqual(a.fileRecorder.audioDetectedInRecording(), true)
        let r1 = try WAVFile.read(path("r1.wav"))
        XCTAssertEqual(DTMFDetector().digits(in: r1), "1234")
        let quiet = try await a.fileRecorder.record(to: path("r2.wav"), encoding: .ulaw, silenceLimit: .seconds(1))
        XCTAssertEqual(quiet, .silence)
        XCTAssertEqual(a.fileRecorder.audioDetectedInRecording(), false)
        let sized = try await a.fileRecorder.record(to: path("r3.wav"), maximumBytes: 8000)
        XCTAssertEqual(sized, .size)
        XCTAssertEqual(try WAVFile.read(path("r3.wav")).count, 4000)
        let timed = try await a.fileRecorder.record(to: path("r4.wav"), timeout: .seconds(2))
        XCTAssertEqual(timed, .timeout)
        await a.hangUp()

        let b = bench.channel(1)
        _ = try await b.call(to: "202")
        let hung = try await b.fileRecorder.record(to: path("r5.wav"))
        XCTAssertEqual(hung, .hangup)
        XCTAssertEqual(Double(try WAVFile.read(path("r5.wav")).count) / 8000, 5, accuracy: 0.3)
    }

    func testRecorderBargeIn() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0)
        _ = try await a.call(to: "200")
        let cause = try await a.fileRecorder.record(to: path("b.wav"), bargeIn: true, timeout: .seconds(10))
        XCTAssertEqual(cause, .bargeIn)
        await a.hangUp()
    }

    func testMediaErrors() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0)
        await XCTAssertThrowsErrorAsync(try await a.filePlayer.play(path("x.wav"))) { XCTAssertTrue("\($0)".hasPrefix("Hangup"), "\($0)") }
        _ = try await a.call(to: "201")
        await XCTAssertThrowsErrorAsync(try await a.filePlayer.play(path("missing.wav"))) { XCTAssertTrue("\($0)".contains("cannot read"), "\($0)") }
        try "not audio".write(toFile: path("text.wav"), atomically: true, encoding: .utf8)
        await XCTAssertThrowsErrorAsync(try await a.filePlayer.play(path("text.wav"))) { XCTAssertTrue("\($0)".contains("RIFF"), "\($0)") }
        await XCTAssertThrowsErrorAsync(try await a.fileRecorder.record(to: "/nonexistent-folder/x.wav")) {
            XCTAssertTrue("\($0)".contains("cannot write /nonexistent-folder/x.wav"), "\($0)")
        }
        XCTAssertTrue(a.filePlayer.stop(), "stop with nothing playing is fine")
        await a.hangUp()
    }
}
