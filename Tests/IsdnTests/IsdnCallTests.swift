import Linecard
import LinecardCore
import LinecardEngine
import LinecardISDN
import SimulatedCard
import Synchronization
import XCTest

/// A simulated E1 (or other) span: the exchange's libpri as the network on one end of the
/// D-channel, our session on the other, the card's channels on the B-channels. libpri's
/// timers read the wall clock, so the card runs paced; the routes answer after one short UK
/// ringback cycle (2 s) to keep the tests quick.
final class IsdnSpanBench {
    let sim: SimulatedCard
    let network: SimulatedIsdnNetwork
    let stack: IsdnStack
    let card: Card

    static let routes: [String: Route] = {
        var routes = ExchangeConfiguration.defaultRoutes
        routes["200"] = Route(.person(Person(answerAfterRings: 1, digits: "1234")))
        routes["201"] = Route(.person(Person(answerAfterRings: 1, greets: false, echoesDigits: true)))
        routes["202"] = Route(.person(Person(answerAfterRings: 1, greets: false, hangsUpAfterMilliseconds: 1000)))
        return routes
    }()

    init(_ variant: IsdnSpanDescription.Variant = .e1, timers: IsdnTimers = IsdnTimers(), ringingTimeoutMilliseconds: Int = 3000) throws {
        sim = try SimulatedCard(isdn: variant, exchange: ExchangeConfiguration(
            country: .uk, routes: Self.routes, ringingTimeoutMilliseconds: ringingTimeoutMilliseconds))
        network = try SimulatedIsdnNetwork(card: sim, timers: timers)
        stack = try IsdnStack(card: sim, timers: timers)
        card = try Card(backend: sim, engine: EngineConfiguration(clock: .paced, tonePlan: .for(.uk)), localChannels: 0, callControl: stack)
        stack.start(card)
        guard stack.waitUntilUp(timeout: .seconds(5)) else { throw IsdnError("the D-channel did not come up") }
    }

    func channel(_ port: Int) -> CallChannel { card.channels[port] }

    func close() {
        card.shutdown()
        stack.stop()
        network.stop()
    }

    func notes() -> [ExchangeNote] {
        var all: [ExchangeNote] = []
        sim.drainNotes { all.append($0) }
        return all
    }
}

final class IsdnCallTests: XCTestCase {
    func testAnsweredCallCarriesDigitsBothWays() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let line = bench.channel(0)
        try line.startCall(to: "201", timeout: .seconds(20))
        let ringing = await line.waitForState(within: .seconds(5)) { $0 == .ringOutgoing || $0 == .answered || $0 == .idle }
        XCTAssertEqual(ringing, .ringOutgoing, "ALERTING came before CONNECT")
        let result1 = await line.waitForAnswer(timeout: .seconds(10))
        XCTAssertEqual(result1, .answered)
        XCTAssertNil(line.details.q850Cause)
        XCTAssertEqual(bench.stack.status[0].bChannels[0].state, .inCall)

        let result2 = try await line.dtmfPlayer.play("159#")
        XCTAssertEqual(result2, .normal)
        let echoed = try await line.dtmfDetector.getDigits(count: 4, predigitsTimeout: .seconds(5), interdigitTimeout: .seconds(3))
        XCTAssertEqual(echoed, "159#", "the far end heard our digits on the B-channel and we heard its answer")

        let result3 = await line.hangUp()
        XCTAssertEqual(result3, .idle)
        XCTAssertEqual(line.cause, .normal)
        try await waitFor("the B-channel to be idle again") { bench.stack.status[0].bChannels[0].state == .idle }
        var notes: [ExchangeNote] = []
        try await waitFor("the network to release the B-channel") {
            notes += bench.notes()
            return notes.contains { $0.port == 0 && $0.kind == .portHungUp }
        }
        XCTAssertTrue(notes.contains { $0.port == 0 && $0.kind == .dialled(UInt8(ascii: "2")) }, "the exchange routed the SETUP's number")
    }

    func testEachRefusalEndsWithItsQ850Cause() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let expected: [(String, CallCause, Int)] = [
            ("300", .busy, 17), ("500", .unobtainable, 1), ("600", .congestion, 34), ("999", .unobtainable, 1), ("400", .noAnswer, 19),
        ]
        for (port, (number, cause, value)) in expected.enumerated() {
            let line = bench.channel(port)
            let state = try await line.call(to: number, timeout: .seconds(20))
            XCTAssertEqual(state, .idle, number)
            XCTAssertEqual(line.cause, cause, number)
            XCTAssertEqual(line.details.q850Cause, Q850Cause(value), number)
            XCTAssertEqual(line.details.rawCause, Q850Cause(value).description, number)
        }
        XCTAssertEqual(bench.channel(0).details.rawCause, "cause 17: user busy")
        // Every B-channel is free again: nothing was left stuck by a refusal.
        try await waitFor("every B-channel idle") { bench.stack.status[0].bChannels.allSatisfy { $0.state == .idle } }
        let result4 = try await bench.channel(0).call(to: "200", timeout: .seconds(10))
        XCTAssertEqual(result4, .answered)
        await bench.channel(0).hangUp()
    }

    func testFarEndHangingUpEndsTheCallNormally() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let line = bench.channel(5)
        let result5 = try await line.call(to: "202", timeout: .seconds(10))
        XCTAssertEqual(result5, .answered)
        let result6 = await line.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(result6, .idle)
        XCTAssertEqual(line.cause, .normal)
        XCTAssertEqual(line.details.q850Cause, .normalClearing)
        try await waitFor("the B-channel to be idle again") { bench.stack.status[0].bChannels[5].state == .idle }
    }

    func testIncomingCallBringsTheCallingNumberAndIsAnswered() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let line = bench.channel(3)
        try bench.sim.placeCall(toPort: 3, from: "5551234", caller: Person(answerAfterRings: 3, greets: false, digits: "42", digitDelayMilliseconds: 300))
        let result7 = try await line.waitForIncomingCall(timeout: .seconds(5))
        XCTAssertEqual(result7, .ringIncoming)
        XCTAssertEqual(line.details.callingNumber, "5551234")
        XCTAssertEqual(line.details.callerIDStatus, .received)
        XCTAssertEqual(line.details.calledNumber, bench.sim.number(ofPort: 3))
        let result8 = try await line.answer()
        XCTAssertEqual(result8, .answered)
        let digits = try await line.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(5))
        XCTAssertEqual(digits, "42", "the caller's audio reached us once CONNECT reached the network")
        let result9 = await line.hangUp()
        XCTAssertEqual(result9, .idle)

        // A caller who withholds their number.
        try await waitFor("the B-channel to be idle again") { bench.stack.status[0].bChannels[3].state == .idle }
        try bench.sim.placeCall(toPort: 3, from: "5559999", sendsCallerID: false)
        let result10 = try await line.waitForIncomingCall(timeout: .seconds(5))
        XCTAssertEqual(result10, .ringIncoming)
        XCTAssertEqual(line.details.callerIDStatus, .withheld)
        // Refused busy: the network is told (cause 17), and the channel takes the next call.
        XCTAssertEqual(try line.reject(cause: .busy), .idle)
        XCTAssertEqual(line.details.q850Cause, .userBusy)
        try await waitFor("the B-channel to be idle again") { bench.stack.status[0].bChannels[3].state == .idle }
        try bench.sim.placeCall(toPort: 3, from: "5551111")
        let result11 = try await line.waitForIncomingCall(timeout: .seconds(5))
        XCTAssertEqual(result11, .ringIncoming)
        XCTAssertEqual(line.details.callingNumber, "5551111")
        let result12 = try await line.answer()
        XCTAssertEqual(result12, .answered)
        let result13 = await line.hangUp()
        XCTAssertEqual(result13, .idle)
    }

    func testCallerGivingUpEndsTheIncomingCall() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let line = bench.channel(1)
        // A caller who waits one ring cycle (UK: 3 s) four times over, then hangs up.
        try bench.sim.placeCall(toPort: 1, from: "5550001", caller: Person(answerAfterRings: 1))
        let result14 = try await line.waitForIncomingCall(timeout: .seconds(5))
        XCTAssertEqual(result14, .ringIncoming)
        let result15 = await line.waitForIdle(timeout: .seconds(20))
        XCTAssertEqual(result15, .idle)
        XCTAssertEqual(line.cause, .normal)
        XCTAssertEqual(line.details.q850Cause, .normalClearing)
    }

    func testLostDChannelFailsCallsAsQ931SaysAndRecovers() async throws {
        // Short link timers: the loss is seen in about 2 s, T309 holds answered calls 2 s more.
        let timers = IsdnTimers(["T200": 300, "N200": 3, "T203": 1000, "T309": 2000])
        let bench = try IsdnSpanBench(timers: timers, ringingTimeoutMilliseconds: 60_000)
        defer { bench.close() }
        let answered = bench.channel(0), ringing = bench.channel(1)
        let result16 = try await answered.call(to: "200", timeout: .seconds(10))
        XCTAssertEqual(result16, .answered)
        try ringing.startCall(to: "400", timeout: .seconds(30))
        _ = await ringing.waitForState(within: .seconds(5)) { $0 == .ringOutgoing }
        XCTAssertEqual(ringing.state, .ringOutgoing)

        bench.network.cutLink(true)
        let result17 = await ringing.waitForIdle(timeout: .seconds(8))
        XCTAssertEqual(result17, .idle, "a call not yet answered fails when the link goes")
        XCTAssertEqual(ringing.cause, .outOfOrder)
        XCTAssertEqual(ringing.details.q850Cause, .destinationOutOfOrder)
        XCTAssertEqual(answered.state, .answered, "an answered call survives the loss, for T309")
        try await waitFor("the session to see the D-channel down") { !bench.stack.status[0].dChannelUp }
        let result18 = try await bench.channel(2).call(to: "200", timeout: .seconds(5))
        XCTAssertEqual(result18, .idle, "no new call while the link is down")
        XCTAssertEqual(bench.channel(2).cause, .outOfOrder)
        XCTAssertTrue(bench.channel(2).details.rawCause.contains("D-channel"), bench.channel(2).details.rawCause)

        let result19 = await answered.waitForIdle(timeout: .seconds(6))
        XCTAssertEqual(result19, .idle, "T309 expired")
        XCTAssertEqual(answered.cause, .outOfOrder)
        XCTAssertEqual(answered.details.q850Cause, .destinationOutOfOrder)

        bench.network.cutLink(false)
        try await waitFor("the D-channel to come back", seconds: 10) { bench.stack.status[0].dChannelUp }
        try await waitFor("the B-channels to be back in service") { bench.stack.status[0].bChannels.allSatisfy { $0.state == .idle } }
        let result20 = try await bench.channel(2).call(to: "200", timeout: .seconds(10))
        XCTAssertEqual(result20, .answered, "calls work again")
        await bench.channel(2).hangUp()
        XCTAssertGreaterThanOrEqual(bench.stack.status[0].dChannelChanges, 3)
    }

    func testCorruptedFramesAreSurvived() async throws {
        let bench = try IsdnSpanBench(timers: IsdnTimers(["T200": 300]))
        defer { bench.close() }
        bench.network.corruptFrames(3)
        let line = bench.channel(0)
        let result21 = try await line.call(to: "200", timeout: .seconds(15))
        XCTAssertEqual(result21, .answered, "Q.921 sent the lost frames again")
        await line.hangUp()
        bench.stack.corruptFrames(2)
        let result22 = try await line.call(to: "300", timeout: .seconds(15))
        XCTAssertEqual(result22, .idle)
        XCTAssertEqual(line.details.q850Cause, .userBusy)
    }

    func testEveryVariantCarriesACall() async throws {
        for variant in [IsdnSpanDescription.Variant.t1, .bri] {
            let bench = try IsdnSpanBench(variant)
            defer { bench.close() }
            XCTAssertEqual(bench.card.channels.count, variant.bearerChannels.count)
            let last = bench.channel(bench.card.channels.count - 1)
            let result23 = try await last.call(to: "300", timeout: .seconds(5))
            XCTAssertEqual(result23, .idle, "\(variant)")
            XCTAssertEqual(last.details.q850Cause, .userBusy, "\(variant)")
        }
    }

    func testAServiceBoundToADialledNumberTakesItsCalls() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let answeredBy = Mutex<[String]>([])
        try bench.card.services.register("sales") { call in
            try await call.answer()
            answeredBy.withLock { $0.append("\(call.port) \(call.details.calledNumber) from \(call.details.callingNumber)") }
            _ = try await call.dtmfPlayer.play("9")
            _ = await call.waitForIdle(timeout: .seconds(10))
        }
        // Any B-channel: the number the caller dialled (DDI) picks the service.
        try bench.card.bind(.dialledNumber(bench.sim.number(ofPort: 7), port: nil, service: "sales"))
        try bench.sim.placeCall(toPort: 7, from: "5550123", caller: Person(answerAfterRings: 2, greets: false, hangsUpAfterMilliseconds: 2000))
        try await waitFor("the service to answer") { !answeredBy.withLock { $0.isEmpty } }
        XCTAssertEqual(answeredBy.withLock { $0 }, ["7 107 from 5550123"])
        try await waitFor("the caller to hear the service's digit", seconds: 5) {
            bench.notes().contains { $0.port == 7 && $0.kind == .farEndHeard(UInt8(ascii: "9")) }
        }
        // A number nobody serves is refused (UNOBTAINABLE, cause 1 to the network).
        try bench.sim.placeCall(toPort: 8, from: "5550124")
        try await waitFor("the unserved call to be refused") { bench.channel(8).details.q850Cause == .unallocatedNumber }
        XCTAssertEqual(bench.channel(8).details.rawCause, "rejected here (cause 1: unallocated (unassigned) number)")
    }

    func testRestartFromTheNetworkEndsTheCallOnItsChannel() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let line = bench.channel(2)
        let state = try await line.call(to: "200", timeout: .seconds(10))
        XCTAssertEqual(state, .answered)
        bench.network.restart(channel: 3)  // B3 is port 2
        let ended = await line.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(line.details.q850Cause, .temporaryFailure)
        try await waitFor("the restarted channel to be idle") { bench.stack.status[0].bChannels[2].state == .idle }
        let again = try await line.call(to: "300", timeout: .seconds(10))
        XCTAssertEqual(again, .idle)
        XCTAssertEqual(line.details.q850Cause, .userBusy, "the channel carries calls again")
    }

    func testIdleChannelsAreRestartedOnceTheLinkIsUp() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        // A call placed at once waits for its channel's RESTART ACKNOWLEDGE.
        let state = try await bench.channel(29).call(to: "300", timeout: .seconds(5))
        XCTAssertEqual(state, .idle)
        XCTAssertEqual(bench.channel(29).details.q850Cause, .userBusy)
        try await waitFor("every channel restarted") { bench.stack.status[0].bChannels.allSatisfy { $0.state == .idle } }
        // SABME, 30 RESTARTs, and the call's SETUP and RELEASE at least.
        XCTAssertGreaterThanOrEqual(bench.stack.status[0].framesOut, 33)
        XCTAssertEqual(bench.stack.status[0].frameErrors, 0)
    }

    func testOneBChannelCallsAnother() async throws {
        let bench = try IsdnSpanBench()
        defer { bench.close() }
        let a = bench.channel(0), b = bench.channel(9)
        try a.startCall(to: bench.sim.number(ofPort: 9), from: "2000", timeout: .seconds(10))
        let offered = try await b.waitForIncomingCall(timeout: .seconds(5))
        XCTAssertEqual(offered, .ringIncoming)
        XCTAssertEqual(b.details.callingNumber, bench.sim.number(ofPort: 0), "the network presents the calling line's own number")
        let ringing = await a.waitForState(within: .seconds(2)) { $0 == .ringOutgoing }
        XCTAssertEqual(ringing, .ringOutgoing)
        _ = try await b.answer()
        let answered = await a.waitForAnswer(timeout: .seconds(5))
        XCTAssertEqual(answered, .answered)
        _ = try await a.dtmfPlayer.play("47")
        let heard = try await b.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(3))
        XCTAssertEqual(heard, "47")
        await b.hangUp()
        let ended = await a.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(a.details.q850Cause, .normalClearing)

        // Refused at the far B-channel: the caller hears why.
        try await waitFor("both channels idle") { bench.stack.status[0].bChannels.allSatisfy { $0.state == .idle } }
        try a.startCall(to: bench.sim.number(ofPort: 9), timeout: .seconds(10))
        _ = try await b.waitForIncomingCall(timeout: .seconds(5))
        _ = try b.reject(cause: .busy)
        let refused = await a.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(refused, .idle)
        XCTAssertEqual(a.details.q850Cause, .callRejected)
        XCTAssertEqual(a.cause, .rejected)
    }

    func testACardWithBChannelsNeedsCallControl() throws {
        let sim = try SimulatedCard(isdn: .bri)
        XCTAssertThrowsError(try Card(backend: sim, engine: EngineConfiguration(clock: .paced), localChannels: 0)) { error in
            XCTAssertTrue("\(error)".contains("ISDN B-channel"), "\(error)")
            XCTAssertTrue("\(error)".contains("IsdnStack"), "\(error)")
        }
    }
}

extension CallChannel {
    /// Waits until `check` of the state gives a value, up to `timeout` of line time.
    func waitForState(within timeout: Duration, _ check: @escaping @Sendable (CallState) -> Bool) async -> CallState {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if check(state) { return state }
            _ = await waitForIdleOrTime(0.02)
        }
        return state
    }
}

/// Waits (in wall time: the span runs paced) until `condition` holds.
func waitFor(_ what: String, seconds: Double = 5, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    XCTFail("timed out waiting for \(what)")
}
