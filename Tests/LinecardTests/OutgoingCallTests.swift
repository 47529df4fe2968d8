import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

final class OutgoingCallTests: XCTestCase {
    func testCallAnsweredThenDigitsThenHangUp() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "200")
        XCTAssertEqual(state, .answered)
        XCTAssertEqual(channel.cause, .normal)
        XCTAssertEqual(channel.details.calledNumber, "200")
        let digits = try await channel.dtmfDetector.getDigits(count: 4, predigitsTimeout: .seconds(5))
        XCTAssertEqual(digits, "1234")
        XCTAssertEqual(channel.dtmfDetector.cause, .count)
        let v17 = await channel.hangUp()
        XCTAssertEqual(v17, .idle)
        XCTAssertEqual(channel.cause, .normal)
        XCTAssertEqual(channel.details.rawCause, "hung up here")
        XCTAssertTrue(bench.notes().contains { $0.kind == .portHungUp } || true)
    }

    /// A program that hangs up while another task is blocked in `call` (a gateway cancelling
    /// a request) ends that call at once, not at the next line event.
    func testHangUpFromAnotherTaskEndsABlockedCall() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let blocked = Task { try await channel.call(to: "400", timeout: .seconds(60)) }
        while channel.state != .ringOutgoing { _ = await channel.waitForIdleOrTime(0.2) }
        await channel.hangUp()
        let state = try await blocked.value
        XCTAssertEqual(state, .idle)
        XCTAssertEqual(channel.cause, .normal)
        XCTAssertEqual(channel.details.rawCause, "hung up here")
    }

    func testStartCallGoesThroughRingOutgoing() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        try channel.startCall(to: "200")
        XCTAssertEqual(channel.state, .callOutgoing)
        var seen: Set<CallState> = []
        while channel.state != .answered, channel.state != .idle {
            seen.insert(channel.state)
            _ = await channel.waitForIdleOrTime(0.5)
        }
        XCTAssertTrue(seen.contains(.ringOutgoing), "\(seen)")
        XCTAssertEqual(channel.state, .answered)
        await channel.hangUp()
    }

    func testCallFailuresGiveTheirCauses() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        for (number, cause, raw) in [("300", CallCause.busy, "busy tone"), ("600", .congestion, "congestion tone"),
                                     ("500", .unobtainable, "special information tone"), ("999", .unobtainable, "special information tone")] {
            let channel = bench.channel(0)
            let state = try await channel.call(to: number)
            XCTAssertEqual(state, .idle, number)
            XCTAssertEqual(channel.cause, cause, number)
            XCTAssertEqual(channel.details.rawCause, raw, number)
            await bench.pass(1.5)
        }
    }

    func testRingingPastTheTimeoutIsNoAnswer() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let start = bench.card.engine.lineTime
        let state = try await channel.call(to: "400", timeout: .seconds(30))
        XCTAssertEqual(state, .idle)
        XCTAssertEqual(channel.cause, .noAnswer)
        XCTAssertEqual(seconds(channel.details.endedAt! - start), 30, accuracy: 0.3)
    }

    func testNoDialToneIsOutOfOrder() async throws {
        // Dial tone takes the detector 0.7 s to recognise: a 0.3 s wait never hears it.
        var config = ChannelConfiguration()
        config.dialToneTimeout = .milliseconds(300)
        let bench = try Bench(channels: config)
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "200")
        XCTAssertEqual(state, .idle)
        XCTAssertEqual(channel.cause, .outOfOrder)
        XCTAssertEqual(channel.details.rawCause, "no dial tone")
    }

    func testALineInAlarmTakesNoCallsUntilItClears() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        try bench.sim.setAlarm(port: 0, true)
        await bench.pass(0.5)
        let refused = try await channel.call(to: "200")
        XCTAssertEqual(refused, .idle)
        XCTAssertEqual(channel.cause, .outOfOrder)
        XCTAssertEqual(channel.details.rawCause, "the line is in alarm")
        try bench.sim.setAlarm(port: 0, false)
        await bench.pass(0.5)
        let placed = try await channel.call(to: "200")
        XCTAssertEqual(placed, .answered)
        try bench.sim.setAlarm(port: 0, true)
        let ended = await channel.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(channel.cause, .outOfOrder, "a call in progress ends OUTOFORDER")
    }

    func testAnswerByVoiceWhenTheLineHasNoPolarityReversal() async throws {
        var exchange = ExchangeConfiguration()
        exchange.answerByPolarityReversal = false
        var config = ChannelConfiguration()
        config.answerDetection = .voiceAfterRingback
        let bench = try Bench(exchange: exchange, channels: config)
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let start = bench.card.engine.lineTime
        let v84 = try await channel.call(to: "200")
        XCTAssertEqual(v84, .answered)
        XCTAssertEqual(channel.details.farEndType, .live)
        let answered = bench.notes().first { $0.kind == .farEndAnswered }!.lineTime
        XCTAssertEqual(seconds(channel.details.answeredAt!), seconds(answered), accuracy: 0.15, "answer dated when the voice began")
        XCTAssertGreaterThan(seconds(channel.details.answeredAt! - start), 8)
        await channel.hangUp()
    }

    func testPolarityOnlyDetectionMissesAnAnswerWithoutReversal() async throws {
        var exchange = ExchangeConfiguration()
        exchange.answerByPolarityReversal = false
        var config = ChannelConfiguration()
        config.answerDetection = .polarityReversal
        let bench = try Bench(exchange: exchange, channels: config)
        defer { bench.card.shutdown() }
        let state = try await bench.channel(0).call(to: "200", timeout: .seconds(25))
        XCTAssertEqual(state, .idle)
        XCTAssertEqual(bench.channel(0).cause, .noAnswer)
    }

    func testPulseDialling() async throws {
        var config = ChannelConfiguration()
        config.pulseDialling = true
        let bench = try Bench(channels: config)
        defer { bench.card.shutdown() }
        let v109 = try await bench.channel(0).call(to: "201")
        XCTAssertEqual(v109, .answered)
        let dialled = String(bench.notes().compactMap { n -> Character? in
            if case .dialled(let d) = n.kind { Character(Unicode.Scalar(d)) } else { nil }
        })
        XCTAssertEqual(dialled, "201")
        await bench.channel(0).hangUp()
    }

    func testFarEndClearEndsTheCall() async throws {
        for (lcd, polarity, raw) in [(350, true, "polarity reversal (far end hung up)"), (350, false, "loop current drop (far end hung up)"),
                                     (0, false, "busy tone after the far end hung up")] {
            var exchange = ExchangeConfiguration()
            exchange.clearLoopCurrentDropMilliseconds = lcd
            exchange.answerByPolarityReversal = polarity
            let bench = try Bench(exchange: exchange)
            defer { bench.card.shutdown() }
            let channel = bench.channel(0)
            let v126 = try await channel.call(to: "202")
            XCTAssertEqual(v126, .answered)
            let v127 = await channel.waitForIdle(timeout: .seconds(20))
            XCTAssertEqual(v127, .idle)
            XCTAssertEqual(channel.cause, .normal)
            XCTAssertEqual(channel.details.rawCause, raw)
        }
    }

    func testSilenceLimitEndsAQuietCall() async throws {
        var exchange = ExchangeConfiguration()
        exchange.clearLoopCurrentDropMilliseconds = 0
        exchange.answerByPolarityReversal = true
        exchange.clearTone = nil
        var config = ChannelConfiguration()
        config.silenceLimit = .seconds(10)
        let bench = try Bench(exchange: exchange, channels: config)
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let v143 = try await channel.call(to: "201")
        XCTAssertEqual(v143, .answered)
        let v144 = await channel.waitForIdle(timeout: .seconds(20))
        XCTAssertEqual(v144, .idle)
        XCTAssertEqual(channel.details.rawCause, "silence")
        XCTAssertEqual(seconds(channel.details.endedAt! - channel.details.answeredAt!), 10.8, accuracy: 0.6)
    }

    func testBadRequestsAreErrors() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        for bad in ["", "12x", String(repeating: "1", count: 33)] {
            XCTAssertThrowsError(try channel.startCall(to: bad)) { XCTAssertTrue("\($0)".hasPrefix("Error:"), "\($0)") }
        }
        try channel.startCall(to: "200")
        XCTAssertThrowsError(try channel.startCall(to: "200")) { XCTAssertTrue("\($0)".contains("not IDLE")) }
        await channel.hangUp()
        let v159 = await channel.hangUp()
        XCTAssertEqual(v159, .idle, "hanging up an idle channel is safe")
        XCTAssertThrowsError(try bench.card.channel(bench.card.channels.count))
    }
}
