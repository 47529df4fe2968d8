import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

/// Far-end classification and waitForAnswerMachine against the exchange's answering
/// machine (700: 3 rings, 4 s greeting, 400 ms beep at 1 kHz) and person (200).
final class AnswerMachineTests: XCTestCase {
    func testAnAnsweringMachineIsClassifiedAndItsBeepFound() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "700")
        XCTAssertEqual(state, .answered)
        let answered = channel.details.answeredAt ?? 0
        await bench.pass(3)
        XCTAssertEqual(channel.details.farEndType, .answerMachine, "a greeting longer than 2.5 s")
        let ready = try await channel.waitForAnswerMachine()
        XCTAssertTrue(ready)
        // The beep ends about 4.4 s after answer; 1 s of silence after it is the moment.
        // Without the beep, 4 s of silence would take until about 8.4 s.
        let at = Double(bench.card.engine.lineTime - answered) / 8000
        XCTAssertGreaterThan(at, 5.0)
        XCTAssertLessThan(at, 6.5, "the beep path, not the long-silence path")
        await channel.hangUp()
    }

    func testAPersonIsLiveAndSilenceRulesApply() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "200")
        XCTAssertEqual(state, .answered)
        await bench.pass(2)
        XCTAssertEqual(channel.details.farEndType, .live, "a short hello, then quiet")
        let early = try await channel.waitForAnswerMachine(timeout: .milliseconds(1500))
        XCTAssertFalse(early, "neither a beep nor 4 s of silence within 1.5 s")
        // The reference's rule: 4 s of uninterrupted silence also counts.
        let later = try await channel.waitForAnswerMachine(timeout: .seconds(10))
        XCTAssertTrue(later)
        await channel.hangUp()
    }

    func testWaitForAnswerMachineErrorRules() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        do { _ = try await channel.waitForAnswerMachine(); XCTFail() } catch CallError.hangup {}
        try channel.startCall(to: "400")
        do { _ = try await channel.waitForAnswerMachine(); XCTFail() } catch CallError.error(let message) {
            XCTAssertTrue(message.contains("not ANSWERED"), message)
        }
        await channel.hangUp()
        // The far end hangs up while we wait: Hangup.
        let clearing = bench.channel(1)
        let answered = try await clearing.call(to: "202")
        XCTAssertEqual(answered, .answered)
        do {
            _ = try await clearing.waitForAnswerMachine(noBeepSilence: .seconds(20), timeout: .seconds(30))
            XCTFail("202 hangs up after 5 s")
        } catch CallError.hangup {}
    }
}
