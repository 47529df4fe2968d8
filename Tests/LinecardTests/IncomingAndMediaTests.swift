import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

final class IncomingCallTests: XCTestCase {
    func testIncomingCallOnFXO() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(1)
        try bench.sim.placeCall(toPort: 1, caller: Person(answerAfterRings: 2, digits: "42"))
        let v11 = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(v11, .callIncoming)
        XCTAssertEqual(try channel.ring(), .ringIncoming)
        let v13 = try await channel.answer()
        XCTAssertEqual(v13, .answered)
        let v14 = try await channel.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(5))
        XCTAssertEqual(v14, "42")
        await channel.hangUp()
    }

    func testCallerWhoGivesUpLeavesTheChannelIdle() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(1)
        try bench.sim.placeCall(toPort: 1, caller: Person(answerAfterRings: 1))
        let v23 = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(v23, .callIncoming)
        let v24 = await channel.waitForIdle(timeout: .seconds(60))
        XCTAssertEqual(v24, .idle)
        XCTAssertEqual(channel.details.rawCause, "the caller hung up before the call was answered")
        await XCTAssertThrowsErrorAsync(try await channel.answer())
    }

    func testWaitingTimesOutWithoutACall() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let v32 = try await bench.channel(1).waitForIncomingCall(timeout: .seconds(3))
        XCTAssertEqual(v32, .waiting)
        XCTAssertEqual(bench.channel(1).state, .idle)
    }

    func testTelephoneOnFXSIsRungAndAnswers() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        try bench.sim.answerWhenRung(port: 4, afterRings: 2)
        let channel = bench.channel(4)
        let v41 = try await channel.call(to: "")
        XCTAssertEqual(v41, .answered)
        try await channel.dtmfPlayer.play("7")
        try bench.sim.hangUpHandset(port: 4)
        let v44 = await channel.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(v44, .idle)
        XCTAssertEqual(channel.details.rawCause, "the telephone hung up")
        XCTAssertEqual(heard(bench.notes(), port: 4), "7")
    }

    func testTelephoneThatDoesNotAnswerIsNoAnswer() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let v52 = try await bench.channel(4).call(to: "", timeout: .seconds(20))
        XCTAssertEqual(v52, .idle)
        XCTAssertEqual(bench.channel(4).cause, .noAnswer)
    }

    func testTelephoneDialsAnIncomingCall() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(5)
        try bench.sim.dial(port: 5, "123#")
        try bench.sim.liftHandset(port: 5)
        let v62 = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(v62, .callIncoming)
        XCTAssertEqual(channel.details.calledNumber, "123")
        let v64 = try await channel.answer()
        XCTAssertEqual(v64, .answered)
        let notes = bench.notes()
        XCTAssertTrue(notes.contains { $0.kind == .telephoneHeardTone(.dial) }, "the telephone heard dial tone")
        await channel.hangUp()
    }

    func testRejectOnFXSGivesTheTelephoneBusyTone() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(5)
        try bench.sim.dial(port: 5, "9")
        try bench.sim.liftHandset(port: 5)
        let v76 = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(v76, .callIncoming)
        XCTAssertEqual(channel.details.calledNumber, "9", "complete after the interdigit timeout")
        XCTAssertEqual(try channel.reject(cause: .busy), .idle)
        XCTAssertEqual(channel.cause, .busy)
        await bench.pass(2, on: 5)
        XCTAssertTrue(bench.notes().contains { $0.kind == .telephoneHeardTone(.busy) })
        XCTAssertThrowsError(try channel.reject(cause: .normal))
    }
}

final class DTMFTests: XCTestCase {
    func testPlayFollowsTheReferenceRules() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let player = channel.dtmfPlayer
        XCTAssertEqual(player.state, .idle)
        XCTAssertEqual(player.cause, .none)
        await XCTAssertThrowsErrorAsync(try await player.play("1")) { XCTAssertEqual($0 as? CallError, .hangup("port 0 has no call (IDLE): cannot play DTMF")) }
        try channel.startCall(to: "201")
        await XCTAssertThrowsErrorAsync(try await player.play("1")) { XCTAssertTrue("\($0)".contains("not ANSWERED"), "\($0)") }
        let v97 = await channel.waitForAnswer(timeout: .seconds(20))
        XCTAssertEqual(v97, .answered)
        await XCTAssertThrowsErrorAsync(try await player.play(String(repeating: "1", count: 33))) { XCTAssertTrue("\($0)".contains("at most 32")) }
        await XCTAssertThrowsErrorAsync(try await player.play("12E")) { XCTAssertTrue("\($0)".contains("\"E\"")) }
        await bench.pass(1)
        let start = bench.card.engine.lineTime
        let v102 = try await player.play("12")
        XCTAssertEqual(v102, .normal)
        let plain = bench.card.engine.lineTime - start
        let again = bench.card.engine.lineTime
        let v105 = try await player.play("3,4")
        XCTAssertEqual(v105, .normal)
        let paused = bench.card.engine.lineTime - again
        XCTAssertEqual(seconds(paused - plain), 0.5, accuracy: 0.05, "a comma pauses half a second")
        XCTAssertEqual(player.state, .idle)
        XCTAssertEqual(player.cause, .normal)
        await bench.pass(1)
        XCTAssertEqual(heard(bench.notes(), port: 0), "1234")
        await channel.hangUp()
    }

    func testPlayEndsWithHangupWhenTheCallEnds() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let v119 = try await channel.call(to: "202")
        XCTAssertEqual(v119, .answered)
        await bench.pass(4.6)
        // The far end hangs up 5 s after answering, in the middle of these pauses.
        let v122 = try await channel.dtmfPlayer.play("1,,,,,,2")
        XCTAssertEqual(v122, .hangup)
        XCTAssertEqual(channel.dtmfPlayer.cause, .hangup)
    }

    func testGetDigitsEndsOnEachOfItsConditions() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let detector = channel.dtmfDetector
        await XCTAssertThrowsErrorAsync(try await detector.getDigits()) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        let v132 = try await channel.call(to: "201")
        XCTAssertEqual(v132, .answered)
        // Nothing buffered and no predigit wait: at once, TIMEOUT.
        let v134 = try await detector.getDigits()
        XCTAssertEqual(v134, "")
        XCTAssertEqual(detector.cause, .timeout)
        // The echoing person presses back what we send: an end digit.
        try await channel.dtmfPlayer.play("58#9")
        let v138 = try await detector.getDigits(predigitsTimeout: .seconds(3), end: "#")
        XCTAssertEqual(v138, "58")
        XCTAssertEqual(detector.cause, .end)
        let v140 = try await detector.getDigits(predigitsTimeout: .seconds(3), interdigitTimeout: .seconds(1))
        XCTAssertEqual(v140, "9")
        XCTAssertEqual(detector.cause, .timeout)
        // Barge-in buffer: digits arrive while nobody collects, and clear empties it.
        try await channel.dtmfPlayer.play("77")
        await bench.pass(1)
        detector.clearDigits()
        let v146 = try await detector.getDigits(predigitsTimeout: .seconds(1))
        XCTAssertEqual(v146, "")
        // The overall limit.
        let v148 = try await detector.getDigits(predigitsTimeout: .seconds(10), timeout: .seconds(2))
        XCTAssertEqual(v148, "")
        XCTAssertEqual(detector.cause, .timeout)
        await XCTAssertThrowsErrorAsync(try await detector.getDigits(end: "x"))
        await channel.hangUp()
    }

    func testGetDigitsReturnsHangupWhenTheCallEnds() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let v158 = try await channel.call(to: "202")
        XCTAssertEqual(v158, .answered)
        let v159 = try await channel.dtmfDetector.getDigits(predigitsTimeout: .seconds(30))
        XCTAssertEqual(v159, "")
        XCTAssertEqual(channel.dtmfDetector.cause, .hangup)
    }
}

final class ConnectTests: XCTestCase {
    func testConnectedCallsCarryAudioAndRefuseTransmission() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0), b = bench.channel(2)
        let v169 = try await a.call(to: "201")
        XCTAssertEqual(v169, .answered)
        try bench.sim.placeCall(toPort: 2, caller: Person(answerAfterRings: 1, digits: "36", digitDelayMilliseconds: 3000))
        let v171 = try await b.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(v171, .callIncoming)
        XCTAssertFalse(try a.connect(b), "b is not answered yet")
        let v173 = try await b.answer()
        XCTAssertEqual(v173, .answered)
        XCTAssertTrue(try a.connect(b))
        XCTAssertEqual(a.details.connectedPort, 2)
        XCTAssertEqual(b.details.connectedPort, 0)
        await XCTAssertThrowsErrorAsync(try await a.dtmfPlayer.play("1")) { XCTAssertTrue("\($0)".contains("external audio source")) }
        XCTAssertThrowsError(try a.connect(b))
        // The caller on b presses 36; it crosses to a's far end, which presses it back.
        let v180 = try await a.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(10))
        XCTAssertEqual(v180, "36")
        XCTAssertEqual(heard(bench.notes(), port: 0), "36")
        XCTAssertTrue(a.disconnect())
        XCTAssertNil(b.details.connectedPort)
        let v184 = try await a.dtmfPlayer.play("1")
        XCTAssertEqual(v184, .normal)
        await a.hangUp()
        await b.hangUp()
    }

    func testHangingUpOneSideEndsTheConnection() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0), b = bench.channel(1)
        let v193 = try await a.call(to: "201")
        XCTAssertEqual(v193, .answered)
        let v194 = try await b.call(to: "200")
        XCTAssertEqual(v194, .answered)
        XCTAssertTrue(try a.connect(b))
        await a.hangUp()
        XCTAssertNil(b.details.connectedPort)
        let v198 = try await b.dtmfPlayer.play("5")
        XCTAssertEqual(v198, .normal, "b transmits again")
        await b.hangUp()
    }
}

func XCTAssertThrowsErrorAsync<T>(_ expression: @autoclosure () async throws -> T, _ check: (Error) -> Void = { _ in },
                                  file: StaticString = #filePath, line: UInt = #line) async {
    do {
        _ = try await expression()
        XCTFail("no error thrown", file: file, line: line)
    } catch {
        check(error)
    }
}
