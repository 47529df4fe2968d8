import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

final class ToneTests: XCTestCase {
    func testTonePlayerPlaysNamedTonesToTheTelephone() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(4)
        let manager = ToneManager()
        let player = channel.makeTonePlayer(using: manager)
        await XCTAssertThrowsErrorAsync(try await player.play("BUSY", duration: .seconds(1))) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        try bench.sim.answerWhenRung(port: 4, afterRings: 1)
        let answered = try await channel.call(to: "")
        XCTAssertEqual(answered, .answered)
        let start = bench.card.engine.lineTime
        let cause = try await player.play("BUSY", duration: .seconds(3))
        XCTAssertEqual(cause, .normal)
        XCTAssertEqual(seconds(bench.card.engine.lineTime - start), 3, accuracy: 0.1)
        let ringback = try await player.play(ToneManager.PredefinedTone.ringback.rawValue, duration: .seconds(7))
        XCTAssertEqual(ringback, .normal)
        let tones = bench.notes().compactMap { n -> String? in
            if case .telephoneHeardTone(let t) = n.kind { "\(t)" } else { nil }
        }
        XCTAssertTrue(tones.contains("busy"), "\(tones)")
        XCTAssertTrue(tones.contains("ringback"), "\(tones)")
        await XCTAssertThrowsErrorAsync(try await player.play("NOPE", duration: .seconds(1))) { XCTAssertTrue("\($0)".contains("no tone named \"NOPE\"")) }
        try player.start("DIAL")
        XCTAssertThrowsError(try player.start("BUSY")) { XCTAssertTrue("\($0)".contains("already playing")) }
        XCTAssertTrue(player.stop())
        XCTAssertEqual(player.cause, .aborted)
        await channel.hangUp()
    }

    func testCreatedTonesFollowTheirCadence() async throws {
        let bench = try Bench(ringCapacity: 65_536)
        defer { bench.card.shutdown() }
        let manager = ToneManager()
        // The reference's example is 400 Hz at -10 dBm0 for 1.65 s, then 3.35 s of silence; at
        // 1 kHz here, because a US line's detector reads a steady 400 Hz as dial tone (see
        // docs/CHANNEL-API.md) and the receiving side would take it for a far-end clear.
        try manager.createTone([.init(frequencyA: 1000, amplitudeA: 10, duration: 1650), .silence(3350)], name: "MY_TONE")
        XCTAssertThrowsError(try manager.createTone([.init(frequencyA: 12_000, amplitudeA: 10, duration: 100)], name: "X")) {
            XCTAssertTrue("\($0)".contains("frequency 12000 is outside 0…9999"))
        }
        XCTAssertThrowsError(try manager.createTone([.silence(0)], name: "Y"))
        XCTAssertThrowsError(try manager.setDefault(named: "Z"))
        try manager.setDefault(named: "MY_TONE")
        XCTAssertEqual(manager.defaultTone, "MY_TONE")

        // Port 0 calls port 1, which records what it hears while port 0 plays the tone.
        let a = bench.channel(0), b = bench.channel(1)
        try a.startCall(to: bench.sim.number(ofPort: 1))
        let incoming = try await b.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming)
        _ = try await b.answer()
        let answered = await a.waitForAnswer(timeout: .seconds(5))
        XCTAssertEqual(answered, .answered)
        try bench.card.engine.submit(EngineCommand(port: 1, .record(true)))
        let player = a.makeTonePlayer(using: manager)
        let start = bench.card.engine.lineTime
        let cause = try await player.play("MY_TONE", duration: .seconds(6))
        XCTAssertEqual(cause, .normal)
        XCTAssertEqual(seconds(bench.card.engine.lineTime - start), 6, accuracy: 0.1)
        var heard = [Int16](repeating: 0, count: 65_536)
        let n = try heard.withUnsafeMutableBufferPointer { try bench.card.engine.recordRing(port: 1).read(into: $0.baseAddress!, count: $0.count) }
        XCTAssertGreaterThan(n, 6 * 8000 - 800)
        func level(_ from: Double, _ to: Double) -> Double { PowerMeter.level(of: Array(heard[Int(from * 8000)..<Int(to * 8000)])) }
        XCTAssertEqual(level(0.2, 1.5), -10, accuracy: 1.5, "on for 1.65 s at -10 dBm0")
        XCTAssertLessThan(level(1.8, 4.8), -60, "off for 3.35 s")
        XCTAssertEqual(level(5.2, 5.9), -10, accuracy: 1.5, "and on again")
        await a.hangUp()
    }
}
