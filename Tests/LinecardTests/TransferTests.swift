import Linecard
import LinecardEngine
import SimulatedCard
import Synchronization
import XCTest

/// What a service saw, for the test to read afterwards.
final class Log: Sendable {
    private let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// Transfers of a telephone's call (FXS port 4, the person on it scripted by the test) to
/// inbound services running on the card's local ports, and to numbers on the exchange.
final class TransferTests: XCTestCase {
    /// The telephone on port 4 answers; returns its answered channel, with a tone player.
    func telephoneCall(_ bench: Bench) async throws -> CallChannel {
        let channel = bench.channel(4)
        channel.makeTonePlayer(using: ToneManager())
        try bench.sim.answerWhenRung(port: 4, afterRings: 1)
        let state = try await channel.call(to: "")
        XCTAssertEqual(state, .answered)
        return channel
    }

    func telephoneHeard(_ bench: Bench) -> String { heard(bench.notes(), port: 4) }

    func testAudioAndDigitsCrossBothWaysAndTheCallComesBackWhenTheServiceEnds() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let log = Log()
        try bench.card.services.register("echo") { call in
            log.add("called from \(call.details.callingNumber) as \(call.details.calledNumber)")
            try await call.answer()
            _ = try await call.dtmfPlayer.play("5")
            let digits = try await call.dtmfDetector.getDigits(count: 1, predigitsTimeout: .seconds(10))
            log.add("got \(digits)")
        }
        let caller = try await telephoneCall(bench)
        let state = try await caller.transferToInboundService(otherCall: bench.channel(6), callTo: "echo", callFrom: "5550123")
        XCTAssertEqual(state, .transferred)
        XCTAssertEqual(caller.transferCause(), .normal)
        // The audio path is the service's now: this channel cannot play.
        await XCTAssertThrowsErrorAsync(try await caller.dtmfPlayer.play("1")) { XCTAssertTrue("\($0)".contains("TRANSFERRED")) }
        await bench.pass(1, on: 4)
        XCTAssertEqual(telephoneHeard(bench), "5", "the service's digit reached the telephone")
        try bench.sim.dial(port: 4, "8")
        let back = try await caller.waitForTransferredCallRetrieval(timeout: .seconds(10))
        XCTAssertEqual(back, .answered, "the service hung up: the call is ours again")
        XCTAssertEqual(log.all, ["called from 5550123 as echo", "got 8"])
        let played = try await caller.dtmfPlayer.play("3")
        XCTAssertEqual(played, .normal)
        await bench.pass(0.5, on: 4)
        XCTAssertEqual(telephoneHeard(bench), "3", "our own audio path is back")
        await caller.hangUp()
    }

    func testTheCallerHearsRingbackWhileTheServiceRingsAndATimeoutLeavesTheCallAnswered() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let log = Log()
        try bench.card.services.register("slow") { call in
            _ = await call.waitForIdleOrTime(3)
            try await call.answer()
            _ = await call.waitForIdle(timeout: .seconds(60))
        }
        try bench.card.services.register("never") { call in
            _ = await call.waitForIdle(timeout: .seconds(60))
            log.add("never: \(call.state.rawValue) \(call.details.rawCause)")
        }
        let caller = try await telephoneCall(bench)
        let start = bench.card.engine.lineTime
        let state = try await caller.transferToInboundService(otherCall: bench.channel(6), callTo: "slow")
        XCTAssertEqual(state, .transferred)
        XCTAssertGreaterThan(seconds(bench.card.engine.lineTime - start), 2.9, "answered after 3 s of ringing")
        let tones = bench.notes().compactMap { n -> String? in
            if case .telephoneHeardTone(let t) = n.kind { "\(t)" } else { nil }
        }
        XCTAssertTrue(tones.contains("ringback"), "the telephone heard \(tones)")
        let back = try await caller.retrieveTransferredCall()
        XCTAssertEqual(back, .answered)

        let timedOut = try await caller.transferToInboundService(otherCall: bench.channel(6), callTo: "never", timeout: .seconds(2))
        XCTAssertEqual(timedOut, .answered)
        XCTAssertEqual(caller.transferCause(), .timeout)
        // The service learns of its call's end in its own task; line time stands still until
        // that task has finished, however loaded the machine.
        await bench.pass(0.5, on: 4)
        XCTAssertEqual(log.all.count, 1, "the abandoned service's call ended")
        XCTAssertTrue(log.all.first?.hasPrefix("never: IDLE") ?? false, "\(log.all)")
        let playedAfter = try await caller.dtmfPlayer.play("2")
        XCTAssertEqual(playedAfter, .normal, "the call is usable after a failed transfer")
        await caller.hangUp()
    }

    func testEveryRuleOfTheReference() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        try bench.card.services.register("busy") { call in try call.reject(cause: .busy) }
        try bench.card.services.register("quitter") { call in await call.hangUp() }
        try bench.card.services.register("holder") { call in
            try await call.answer()
            _ = await call.waitForIdle(timeout: .seconds(60))
        }
        let caller = bench.channel(4)
        caller.makeTonePlayer(using: ToneManager())
        // IDLE → Hangup, for every function.
        await XCTAssertThrowsErrorAsync(try await caller.transferToInboundService(otherCall: bench.channel(6), callTo: "holder")) {
            XCTAssertTrue("\($0)".hasPrefix("Hangup"), "\($0)")
        }
        await XCTAssertThrowsErrorAsync(try await caller.retrieveTransferredCall()) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        await XCTAssertThrowsErrorAsync(try await caller.waitForTransferredCallRetrieval()) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        XCTAssertEqual(caller.transferCause(), .none)

        let call = try await telephoneCall(bench)
        let other = bench.channel(6)
        await XCTAssertThrowsErrorAsync(try await call.retrieveTransferredCall()) { XCTAssertTrue("\($0)".contains("not TRANSFERRED")) }
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: call, callTo: "holder")) {
            XCTAssertTrue("\($0)".contains("its own channel"))
        }
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: other, callTo: "nobody")) {
            XCTAssertTrue("\($0)".contains("no inbound service named \"nobody\" (registered: busy, holder, quitter)"), "\($0)")
        }
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: other, callTo: "holder", ringbackTone: "NOPE")) {
            XCTAssertTrue("\($0)".contains("no tone named \"NOPE\""))
        }
        // The other call must be IDLE.
        let busyOther = bench.channel(7)
        try busyOther.startCallToInboundService("holder")
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: busyOther, callTo: "holder")) {
            XCTAssertTrue("\($0)".contains("must be IDLE"), "\($0)")
        }
        await busyOther.hangUp()
        // A WAITING channel is not IDLE: the reference's rule refuses it too.
        let waiter = bench.channel(8)
        async let waited = waiter.waitForIncomingCall(timeout: .seconds(30))
        while waiter.state != .waiting { await Task.yield() }
        let hold = bench.card.engine.holdClock()
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: waiter, callTo: "holder")) {
            XCTAssertTrue("\($0)".hasPrefix("Error") && "\($0)".contains("WAITING"), "\($0)")
        }
        hold.cancel()
        _ = try await waited
        // No tone player: an Error, before anything happens.
        let bare = bench.channel(5)
        try bench.sim.answerWhenRung(port: 5, afterRings: 1)
        _ = try await bare.call(to: "")
        await XCTAssertThrowsErrorAsync(try await bare.transferToInboundService(otherCall: other, callTo: "holder")) {
            XCTAssertTrue("\($0)".contains("no tone player"), "\($0)")
        }
        await bare.hangUp()
        // The target refuses, or hangs up before answering.
        let refused = try await call.transferToInboundService(otherCall: other, callTo: "busy")
        XCTAssertEqual(refused, .answered)
        XCTAssertEqual(call.transferCause(), .targetReject)
        let quit = try await call.transferToInboundService(otherCall: other, callTo: "quitter")
        XCTAssertEqual(quit, .answered)
        XCTAssertEqual(call.transferCause(), .targetHangup)
        // Not ANSWERED (here TRANSFERRED) → Error.
        let held = try await call.transferToInboundService(otherCall: other, callTo: "holder")
        XCTAssertEqual(held, .transferred)
        await XCTAssertThrowsErrorAsync(try await call.transferToInboundService(otherCall: bench.channel(8), callTo: "holder")) {
            XCTAssertTrue("\($0)".hasPrefix("Error") && "\($0)".contains("TRANSFERRED"), "\($0)")
        }
        await call.hangUp()
    }

    func testTheCallerHangingUpDuringOrAfterTheTransferEndsTheServicesCall() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let log = Log()
        try bench.card.services.register("slow") { call in
            _ = await call.waitForIdleOrTime(3)
            log.add("slow: \(call.state.rawValue)")
        }
        try bench.card.services.register("holder") { call in
            try await call.answer()
            _ = await call.waitForIdle(timeout: .seconds(60))
            log.add("holder: \(call.state.rawValue) \(call.details.rawCause)")
        }
        let caller = try await telephoneCall(bench)
        async let transfer = caller.transferToInboundService(otherCall: bench.channel(6), callTo: "slow")
        await bench.pass(1, on: 5)
        try bench.sim.hangUpHandset(port: 4)
        let during = try await transfer
        XCTAssertEqual(during, .idle)
        XCTAssertEqual(caller.transferCause(), .hangup)
        await bench.pass(3, on: 5)
        XCTAssertEqual(log.all, ["slow: IDLE"], "the service's call ended with the caller's")

        let again = try await telephoneCall(bench)
        let transferred = try await again.transferToInboundService(otherCall: bench.channel(6), callTo: "holder")
        XCTAssertEqual(transferred, .transferred)
        try bench.sim.hangUpHandset(port: 4)
        let ended = await again.waitForIdle(timeout: .seconds(10))
        XCTAssertEqual(ended, .idle)
        await bench.pass(0.5, on: 5)
        XCTAssertEqual(log.all.last, "holder: IDLE the far end hung up")
    }

    func testARetrievableTransferToANumberBridgesTheTwoLines() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let caller = try await telephoneCall(bench)
        // 201 presses back every digit it hears.
        let state = try await caller.retrievableTransfer(otherCall: bench.channel(0), callTo: "201")
        XCTAssertEqual(state, .transferred, "\(caller.transferCause()) \(caller.details.rawCause) leg: \(bench.channel(0).details)")
        await bench.pass(0.5, on: 5)
        _ = bench.notes()
        try bench.sim.dial(port: 4, "6")
        await bench.pass(1.5, on: 5)
        let notes = bench.notes()
        XCTAssertEqual(heard(notes, port: 0), "6", "the telephone's digit crossed the bridge to 201")
        XCTAssertEqual(heard(notes, port: 4), "6", "and 201's pressed-back digit came back to the telephone")
        let back = try await caller.retrieveTransferredCall()
        XCTAssertEqual(back, .answered)
        let legEnded = await bench.channel(0).waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(legEnded, .idle, "retrieving hung up the leg")
        await bench.pass(1, on: 5)

        // 202 hangs up 5 s after answering: the call comes back by itself.
        let toLeaver = try await caller.retrievableTransfer(otherCall: bench.channel(0), callTo: "202")
        XCTAssertEqual(toLeaver, .transferred, "\(caller.transferCause()) \(caller.details.rawCause); leg: \(bench.channel(0).details.rawCause)")
        let returned = try await caller.waitForTransferredCallRetrieval(timeout: .seconds(30))
        XCTAssertEqual(returned, .answered)
        await bench.pass(2, on: 5)
        // Busy and unobtainable are refusals.
        let toBusy = try await caller.retrievableTransfer(otherCall: bench.channel(0), callTo: "300")
        XCTAssertEqual(toBusy, .answered)
        XCTAssertEqual(caller.transferCause(), .targetReject)
        // An FXS port as the leg rings its telephone.
        try bench.sim.answerWhenRung(port: 5, afterRings: 2)
        let toPhone = try await caller.retrievableTransfer(otherCall: bench.channel(5), callTo: "")
        XCTAssertEqual(toPhone, .transferred)
        _ = bench.notes()
        try bench.sim.dial(port: 5, "4")
        await bench.pass(1, on: 3)
        XCTAssertEqual(heard(bench.notes(), port: 4), "4", "one telephone's digit reached the other across the bridge")
        let fromPhone = try await caller.retrieveTransferredCall()
        XCTAssertEqual(fromPhone, .answered)
        await bench.pass(2, on: 5)
        await XCTAssertThrowsErrorAsync(try await caller.retrievableTransfer(otherCall: bench.channel(6), callTo: "201")) {
            XCTAssertTrue("\($0)".contains("needs a line"), "\($0)")
        }
        await caller.hangUp()
    }
}

/// The analog line's own transfer: flash, dial, hang up; the exchange does the rest.
final class HookFlashTransferTests: XCTestCase {
    func testTheExchangeConnectsTheFarEndToTheDialledPort() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let line = bench.channel(0), target = bench.channel(3)
        // 201 presses back every digit it hears.
        let state = try await line.call(to: "201")
        XCTAssertEqual(state, .answered)
        await bench.pass(1)
        let after = try await line.hookFlashTransfer(to: bench.sim.number(ofPort: 3))
        XCTAssertEqual(after, .idle)
        XCTAssertEqual(line.cause, .normal)
        XCTAssertEqual(line.details.rawCause, "transferred to 103 by hook flash")
        let incoming = try await target.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming, "the held far end now rings port 3")
        _ = try await target.answer()
        await bench.pass(1, on: 3)
        _ = try await target.dtmfPlayer.play("9")
        let digits = try await target.dtmfDetector.getDigits(count: 1, predigitsTimeout: .seconds(3))
        XCTAssertEqual(digits, "9", "201 is on port 3 now, pressing back what it hears")
        let notes = bench.notes()
        XCTAssertTrue(notes.contains { $0.kind == .transferred(toPort: 3) && $0.port == 0 })
        await target.hangUp()
    }

    func testRules() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        await XCTAssertThrowsErrorAsync(try await bench.channel(0).hookFlashTransfer(to: "103")) { XCTAssertTrue("\($0)".hasPrefix("Hangup")) }
        await XCTAssertThrowsErrorAsync(try await bench.channel(4).hookFlashTransfer(to: "103")) { XCTAssertTrue("\($0)".contains("needs an FXO line")) }
        await XCTAssertThrowsErrorAsync(try await bench.channel(0).hookFlashTransfer(to: "1x")) { XCTAssertTrue("\($0)".contains("dial only")) }
        try bench.channel(0).startCall(to: "400")
        await XCTAssertThrowsErrorAsync(try await bench.channel(0).hookFlashTransfer(to: "103")) { XCTAssertTrue("\($0)".hasPrefix("Error")) }
        await bench.channel(0).hangUp()
    }
}
