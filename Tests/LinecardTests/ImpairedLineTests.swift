import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// The main call paths again, over a poor line: 6 dB of loss each way, white noise at
/// -45 dBm0, talker echo 14 dB down after 16 ms, and A-law both ways.
final class ImpairedLineTests: XCTestCase {
    static let poor = Impairments(lossDecibels: 6, noiseLevel: -45, echo: EchoPath(delayMilliseconds: 16, returnLossDecibels: 14), codec: .alaw)

    static func exchange() -> ExchangeConfiguration {
        var config = ExchangeConfiguration()
        for (number, route) in config.routes { config.routes[number] = Route(route.farEnd, impairments: poor) }
        config.portImpairments = poor
        return config
    }

    func testCallsProgressAndEndAsOnAGoodLine() async throws {
        let bench = try Bench(exchange: Self.exchange())
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        for (number, cause) in [("300", CallCause.busy), ("600", .congestion), ("500", .unobtainable)] {
            let state = try await channel.call(to: number)
            XCTAssertEqual(state, .idle, number)
            XCTAssertEqual(channel.cause, cause, number)
            await bench.pass(1.5)
        }
        let unanswered = try await channel.call(to: "400", timeout: .seconds(20))
        XCTAssertEqual(unanswered, .idle)
        XCTAssertEqual(channel.cause, .noAnswer)
        await bench.pass(1.5)
        let answered = try await channel.call(to: "202")
        XCTAssertEqual(answered, .answered)
        let ended = await channel.waitForIdle(timeout: .seconds(20))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(channel.cause, .normal)
    }

    func testDigitsBothWaysAndTheEchoIsNotMistakenForTheFarEnd() async throws {
        let bench = try Bench(exchange: Self.exchange())
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let answered = try await channel.call(to: "201")
        XCTAssertEqual(answered, .answered)
        await bench.pass(1)
        channel.dtmfDetector.clearDigits()
        // The far end presses back each digit in the pause after it.
        let played = try await channel.dtmfPlayer.play("2,5,8,0")
        XCTAssertEqual(played, .normal)
        // Our own digits come back as echo 14 dB (plus 12 dB of loss) down, at -36 dBm0:
        // loud enough to detect, so the engine takes a digit it is sending, heard while it
        // sends or just after, for its own echo. Without that this reads "25580".
        let digits = try await channel.dtmfDetector.getDigits(count: 5, predigitsTimeout: .seconds(3), interdigitTimeout: .seconds(2))
        XCTAssertEqual(digits, "2580")
        XCTAssertEqual(heard(bench.notes(), port: 0), "2580")
        await channel.hangUp()
    }

    func testIncomingCallerOverAPoorLine() async throws {
        let bench = try Bench(exchange: Self.exchange())
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        try bench.sim.placeCall(toPort: 2, caller: Person(answerAfterRings: 2, digits: "9*7"), impairments: Self.poor)
        let incoming = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming)
        _ = try await channel.answer()
        let digits = try await channel.dtmfDetector.getDigits(count: 3, predigitsTimeout: .seconds(5))
        XCTAssertEqual(digits, "9*7")
        await channel.hangUp()
    }

    func testVoiceAnswerDetectionOverNoise() async throws {
        var exchange = Self.exchange()
        exchange.answerByPolarityReversal = false
        var config = ChannelConfiguration()
        config.answerDetection = .voiceAfterRingback
        let bench = try Bench(exchange: exchange, channels: config)
        defer { bench.card.shutdown() }
        let answered = try await bench.channel(0).call(to: "200")
        XCTAssertEqual(answered, .answered, "noise at -45 dBm0 stays under the -38 dBm0 activity threshold")
        await bench.channel(0).hangUp()
    }
}
