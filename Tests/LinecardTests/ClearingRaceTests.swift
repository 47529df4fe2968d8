import Foundation
import Linecard
import LinecardEngine
import Synchronization
import XCTest

/// Two connected calls ending at the same moment from both sides: the far end clears one
/// while the program hangs up the other. Each must end cleanly, whatever the order, with
/// nothing left connected, and no late notice may end the next call between the same ports.
final class ClearingRaceTests: XCTestCase {
    /// The service's side of each call, by the caller's port, so the test can play the far end.
    final class FarEnds: Sendable {
        private let calls = Mutex<[Int: CallChannel]>([:])
        private let running = Atomic<Int>(0)
        func add(_ call: CallChannel, for caller: Int) { calls.withLock { $0[caller] = call } }
        func take(_ caller: Int) -> CallChannel? { calls.withLock { $0.removeValue(forKey: caller) } }
        func started() { running.add(1, ordering: .relaxed) }
        func ended() { running.subtract(1, ordering: .relaxed) }
        var active: Int { running.load(ordering: .relaxed) }
    }

    static let rounds = 10_000
    static let deadline = Duration.seconds(600)

    func bench(_ farEnds: FarEnds) throws -> Bench {
        let bench = try Bench()
        for name in ["hold"] {
            try bench.card.services.register(name) { call in
                farEnds.started()
                defer { farEnds.ended() }
                // The caller's port: a local call's calling number is "port N". Known before
                // the answer, so the caller finds its far end as soon as it is answered.
                let caller = Int(call.details.callingNumber.dropFirst(5)) ?? -1
                farEnds.add(call, for: caller)
                try await call.answer()
                _ = await call.waitForIdle(timeout: .seconds(600))
            }
        }
        return bench
    }

    /// Runs `round` `rounds` times; fails instead of hanging when they take past the deadline.
    func race(_ rounds: Int, _ round: @escaping @Sendable (Int) async throws -> Void) async throws {
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for i in 0..<rounds {
                    do { try await round(i) } catch {
                        XCTFail("round \(i): \(error)")
                        return true
                    }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: Self.deadline)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        XCTAssertTrue(finished, "the rounds did not finish within \(Self.deadline): a clearing race hung")
    }

    func testTheFarEndClearingOneConnectedCallWhileTheProgramHangsUpTheOther() async throws {
        let farEnds = FarEnds()
        let bench = try bench(farEnds)
        defer { bench.card.shutdown() }
        let a = bench.channel(0), b = bench.channel(1)
        try await race(Self.rounds) { i in
            while farEnds.active > 0 { await Task.yield() }
            guard try await a.callToInboundService("hold") == .answered,
                  try await b.callToInboundService("hold") == .answered else { throw CallError.error("a call was not answered") }
            guard a.state == .answered else { throw CallError.error("round \(i): a is \(a.state) after answering: \(a.cause) \(a.details.rawCause)") }
            guard try a.connect(b) else { throw CallError.error("not connected") }
            guard let farA = farEnds.take(0) else { throw CallError.error("no far end for port 0") }
            // Alternate which side starts first; the two run at once either way.
            async let far: Void = { if i % 2 == 1 { await Task.yield() }; _ = await farA.hangUp() }()
            async let here: Void = { if i % 2 == 0 { await Task.yield() }; _ = await b.hangUp() }()
            _ = await (far, here)
            // No line-time limit: a hang is what the race's deadline is for.
            let state = await a.waitForIdle(timeout: nil)
            guard state == .idle, b.state == .idle else { throw CallError.error("round \(i): \(a.state) / \(b.state)") }
            guard a.details.connectedPort == nil, b.details.connectedPort == nil else {
                throw CallError.error("round \(i): still connected (\(a.details.connectedPort as Any), \(b.details.connectedPort as Any))")
            }
        }
        XCTAssertEqual(a.state, .idle)
    }

    /// A transferred call and its leg: the far end clears one side while the program hangs up
    /// the other (the caller's far end against the leg, the leg's far end against the caller).
    /// Both end, the bridge comes down, and the next round's transfer is not disturbed by a
    /// late report from this one's leg.
    func testTheFarEndClearingOneSideOfATransferWhileTheProgramHangsUpTheOther() async throws {
        let farEnds = FarEnds()
        let bench = try bench(farEnds)
        defer { bench.card.shutdown() }
        let a = bench.channel(0), leg = bench.channel(1)
        a.makeTonePlayer(using: ToneManager())
        try await race(Self.rounds) { i in
            while farEnds.active > 0 { await Task.yield() }
            let answered = try await a.callToInboundService("hold")
            guard answered == .answered else {
                throw CallError.error("round \(i): the call was not answered: \(answered), \(a.cause), \(a.details.rawCause); services: \(bench.card.services.errors)")
            }
            let transferred = try await a.transferToInboundService(otherCall: leg, callTo: "hold", callFrom: "port 1")
            guard transferred == .transferred else {
                throw CallError.error("round \(i): the transfer ended \(transferred) (\(a.transferCause()), \(a.details.rawCause)); leg \(leg.state) \(leg.cause) \(leg.details.rawCause); services: \(bench.card.services.errors)")
            }
            let callersFarEnd = farEnds.take(0), legsFarEnd = farEnds.take(1)
            guard let callersFarEnd, let legsFarEnd else { throw CallError.error("round \(i): a far end is missing") }
            // Alternate the pair that races, and which of the two starts first.
            let (far, program) = i % 2 == 0 ? (callersFarEnd, leg) : (legsFarEnd, a)
            async let farSide: Void = { if i % 4 < 2 { await Task.yield() }; _ = await far.hangUp() }()
            async let programSide: Void = { if i % 4 >= 2 { await Task.yield() }; _ = await program.hangUp() }()
            _ = await (farSide, programSide)
            // The side left up (a call taken back, or a leg whose owner ended) is the program's to end.
            if a.state != .idle { _ = await a.hangUp() }
            guard await a.waitForIdle(timeout: nil) == .idle, await leg.waitForIdle(timeout: nil) == .idle else {
                throw CallError.error("round \(i): \(a.state) / \(leg.state)")
            }
            guard a.details.connectedPort == nil, leg.details.connectedPort == nil else {
                throw CallError.error("round \(i): still connected")
            }
        }
        XCTAssertEqual(a.state, .idle)
    }
}
