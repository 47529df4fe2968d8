import Foundation
import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

/// Inbound services: registered in code, started by incoming calls, dialled numbers and
/// local calls, each on its own channel.
final class InboundServiceTests: XCTestCase {
    func testALocalCallReachesANewInstanceOfTheService() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let log = Log()
        try bench.card.services.register("greeter") { call in
            log.add("\(call.kind.rawValue) port \(call.port) called by \(call.details.callingNumber)")
            try await call.answer()
            _ = try await call.dtmfPlayer.play("42")
            _ = await call.waitForIdle(timeout: .seconds(30))
            log.add("greeter: \(call.details.rawCause)")
        }
        // Any idle channel can call a service; the service runs on a free local port (6-9).
        let a = bench.channel(0), b = bench.channel(1)
        let first = try await a.callToInboundService("greeter")
        let second = try await b.callToInboundService("greeter", from: "reception")
        XCTAssertEqual(first, .answered)
        XCTAssertEqual(second, .answered)
        let digits = try await a.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(5))
        XCTAssertEqual(digits, "42", "the service's audio reaches the caller")
        await a.hangUp()
        await b.hangUp()
        await bench.pass(0.5, on: 5)
        let entries = log.all.sorted()
        XCTAssertEqual(entries.filter { $0.hasPrefix("local port") }.count, 2, "two instances, each on its own local port: \(entries)")
        XCTAssertTrue(entries.contains { $0.contains("called by reception") })
        XCTAssertTrue(entries.contains { $0.contains("called by port 0") }, "the default caller is the calling port")
        XCTAssertEqual(entries.filter { $0 == "greeter: the far end hung up" }.count, 2)

        // Errors: an unknown service, a channel not IDLE, a local port asked to dial a number.
        XCTAssertThrowsError(try a.startCallToInboundService("nobody")) { XCTAssertTrue("\($0)".contains("no inbound service named")) }
        XCTAssertThrowsError(try bench.channel(6).startCall(to: "200")) { XCTAssertTrue("\($0)".contains("local port")) }
        XCTAssertThrowsError(try bench.card.services.register("greeter") { _ in }) { XCTAssertTrue("\($0)".contains("already registered")) }
        XCTAssertThrowsError(try bench.card.services.register("bad name!") { _ in }) { XCTAssertTrue("\($0)".contains("cannot name a service")) }
    }

    func testAllLocalPortsBusyIsAClearError() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        try bench.card.services.register("holder") { call in
            try await call.answer()
            _ = await call.waitForIdle(timeout: .seconds(60))
        }
        // Ports 0-3 call; ports 6-9 are the card's 4 local ports, all taken by the services.
        for port in 0..<4 { try bench.channel(port).startCallToInboundService("holder") }
        XCTAssertThrowsError(try bench.channel(4).startCallToInboundService("holder")) {
            XCTAssertTrue("\($0)".contains("no free local port"), "\($0)")
        }
        for port in 0..<4 { await bench.channel(port).hangUp() }
    }

    func testAServiceThatThrowsHasItsCallHungUpAndTheErrorKept() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        struct Broken: Error {}
        try bench.card.services.register("broken") { call in
            try await call.answer()
            _ = await call.waitForIdleOrTime(1)
            throw Broken()
        }
        let caller = bench.channel(6)
        let state = try await caller.callToInboundService("broken")
        XCTAssertEqual(state, .answered)
        let ended = await caller.waitForIdle(timeout: .seconds(5))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(bench.card.services.errors.map(\.service), ["broken"])
    }

    func testIncomingCallsAndDialledNumbersStartTheirServices() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let log = Log()
        try bench.card.services.register("reception") { call in
            try await call.answer()
            let digits = try await call.dtmfDetector.getDigits(count: 2, predigitsTimeout: .seconds(10))
            log.add("reception on \(call.port) got \(digits) from \(call.details.callingNumber)")
        }
        try bench.card.services.register("voicemail") { call in
            try await call.answer()
            _ = try await call.dtmfPlayer.play("7")
            _ = await call.waitForIdle(timeout: .seconds(30))
        }
        try bench.card.bind(.incomingCalls(port: 2, service: "reception"))
        try bench.card.bind(.dialledNumber("*98", port: nil, service: "voicemail"))
        XCTAssertThrowsError(try bench.card.bind(.incomingCalls(port: 2, service: "voicemail"))) { XCTAssertTrue("\($0)".contains("already bound")) }
        XCTAssertThrowsError(try bench.card.bind(.incomingCalls(port: 4, service: "reception"))) { XCTAssertTrue("\($0)".contains("FXO")) }
        XCTAssertThrowsError(try bench.card.bind(.incomingCalls(port: 1, service: "nobody"))) { XCTAssertTrue("\($0)".contains("no inbound service")) }

        // A caller on the FXO line: the service answers and hears the digits it presses.
        try bench.sim.placeCall(toPort: 2, from: "5550177", caller: Person(answerAfterRings: 1, greets: false, digits: "31", digitDelayMilliseconds: 500))
        await bench.pass(12, on: 5)
        XCTAssertEqual(log.all, ["reception on 2 got 31 from 5550177"])

        // A telephone dialling *98 reaches voicemail; dialling 55 reaches nothing.
        try bench.sim.liftHandset(port: 5)
        await bench.pass(0.5, on: 0)
        try bench.sim.dial(port: 5, "*98")
        await bench.pass(6, on: 0)
        XCTAssertTrue(heard(bench.notes(), port: 5).contains("7"), "voicemail's digit reached the telephone")
        try bench.sim.hangUpHandset(port: 5)
        await bench.pass(2, on: 0)
        try bench.sim.liftHandset(port: 5)
        await bench.pass(0.5, on: 0)
        try bench.sim.dial(port: 5, "55")
        await bench.pass(6, on: 0)
        let tones = bench.notes().compactMap { n -> String? in
            if case .telephoneHeardTone(let t) = n.kind { "\(t)" } else { nil }
        }
        XCTAssertTrue(tones.contains("busy") || tones.contains("congestion"), "an unbound number is refused: \(tones)")
        try bench.sim.hangUpHandset(port: 5)
    }

    func testBindingsReadFromJSON() throws {
        let json = #"[{"service": "reception", "incomingCallsOnPort": 2}, {"service": "voicemail", "dialled": "*98", "port": 4}]"#
        let bindings = try JSONDecoder().decode([ServiceBinding].self, from: Data(json.utf8))
        XCTAssertEqual(bindings, [.incomingCalls(port: 2, service: "reception"), .dialledNumber("*98", port: 4, service: "voicemail")])
        let again = try JSONDecoder().decode([ServiceBinding].self, from: try JSONEncoder().encode(bindings))
        XCTAssertEqual(again, bindings)
        for (bad, message) in [
            (#"{"service": "x"}"#, "neither incomingCallsOnPort nor dialled"),
            (#"{"service": "x", "incomingCallsOnPort": 1, "dialled": "1"}"#, "not both"),
            (#"{"service": "x", "dialed": "1"}"#, "unknown key \"dialed\""),
        ] {
            XCTAssertThrowsError(try JSONDecoder().decode(ServiceBinding.self, from: Data(bad.utf8))) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }
}
