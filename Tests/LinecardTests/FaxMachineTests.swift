import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

/// Far-end type FAX_MACHINE: the exchange's fax machine (800) answers with CED, and a fax
/// machine calling in sends CNG; both are spandsp T.30 terminals, not recordings.
final class FaxMachineTests: XCTestCase {
    func testCallingAFaxMachineHearsItsAnswerTone() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "800")
        XCTAssertEqual(state, .answered)
        await bench.pass(4)
        XCTAssertEqual(channel.details.farEndType, .faxMachine, "CED (2100 Hz) is not a person's words nor a machine's beep")
        await channel.hangUp()
    }

    func testAFaxMachineCallingInIsRecognisedByItsCallingTone() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        try bench.sim.placeFaxCall(toPort: 2)
        let incoming = try await channel.waitForIncomingCall(timeout: .seconds(10))
        XCTAssertEqual(incoming, .callIncoming)
        _ = try await channel.answer()
        XCTAssertEqual(channel.details.farEndType, .unknown)
        await bench.pass(4)
        XCTAssertEqual(channel.details.farEndType, .faxMachine, "CNG (1100 Hz, 0.5 s every 3.5 s)")
        await channel.hangUp()
    }

    func testAFaxMachineHangsUpWhenNoFaxAnswersIt() async throws {
        // Its T.30 gives up when nothing answers its DIS (spandsp: about 22 s), then hangs up.
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "800")
        XCTAssertEqual(state, .answered)
        let answered = bench.card.engine.lineTime
        let ended = await channel.waitForIdle(timeout: .seconds(60))
        XCTAssertEqual(ended, .idle)
        XCTAssertEqual(channel.cause, .normal)
        let seconds = Double(bench.card.engine.lineTime - answered) / 8000
        XCTAssertGreaterThan(seconds, 10, "T.30 repeats DIS for a while first")
        XCTAssertLessThan(seconds, 45, "T1 is 35 s")
    }

    func testASecondCallToTheBusyFaxMachineGetsBusy() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let first = try await bench.channel(0).call(to: "800")
        XCTAssertEqual(first, .answered)
        let second = try await bench.channel(1).call(to: "800")
        XCTAssertEqual(second, .idle)
        XCTAssertEqual(bench.channel(1).cause, .busy)
        await bench.channel(0).hangUp()
    }

    func testPeopleAndAnsweringMachinesAreNotTakenForFaxMachines() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        for (number, type) in [("200", FarEndType.live), ("700", .answerMachine)] {
            let channel = bench.channel(0)
            let state = try await channel.call(to: number)
            XCTAssertEqual(state, .answered)
            await bench.pass(6)
            XCTAssertEqual(channel.details.farEndType, type, number)
            await channel.hangUp()
            await bench.pass(1)
        }
    }
}
