import LinecardDSP
import LinecardEngine
import SimulatedCard
import Synchronization
import XCTest

final class EngineErrorTests: XCTestCase {
    func testBlockSizesOutsideOneTo20MillisecondsOrNotMultiplesOf8AreRefused() {
        for bad in [0, 4, 12, 168, 320, -8] {
            XCTAssertThrowsError(try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: bad))) { error in
                XCTAssertEqual(error as? CardError, .invalidBlockSize(bad))
                XCTAssertTrue("\(error)".contains("multiple of 8"))
            }
        }
        for good in EngineConfiguration.blockSizes {
            XCTAssertNoThrow(try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: good)))
        }
    }

    func testUnknownPortPortOpenedTwiceAndClosedCardAreErrors() throws {
        let engine = try Engine(card: SimulatedCard(fxoPorts: 2, fxsPorts: 0))
        XCTAssertThrowsError(try engine.open(port: 2)) { XCTAssertEqual("\($0)", "no port 2 on this card: ports are numbered 0 to 1") }
        XCTAssertThrowsError(try engine.open(port: -1))
        try engine.open(port: 1)
        XCTAssertThrowsError(try engine.open(port: 1)) { XCTAssertEqual($0 as? CardError, .portAlreadyOpen(1)) }
        XCTAssertThrowsError(try engine.submit(EngineCommand(port: 0, .hook(.offHook)))) { XCTAssertEqual($0 as? CardError, .portNotOpen(0)) }
        XCTAssertThrowsError(try engine.submit(EngineCommand(port: 1, .listen(to: 0))))
        XCTAssertThrowsError(try engine.submit(EngineCommand(port: 1, .activate)))
        let other = try Engine(card: SimulatedCard())
        var foreign = other.toneID(for: .dial)
        for _ in 0..<10 { foreign = try other.registerTone(.continuous(1000, level: -10)) }
        XCTAssertThrowsError(try engine.submit(EngineCommand(port: 1, .playTone(foreign, samples: 0)))) {
            XCTAssertTrue("\($0)".contains("not registered"))
        }
        try engine.close(port: 1)
        XCTAssertThrowsError(try engine.close(port: 1)) { XCTAssertEqual($0 as? CardError, .portNotOpen(1)) }
        try engine.open(port: 1)
        engine.shutdown()
        XCTAssertThrowsError(try engine.open(port: 0)) { XCTAssertEqual($0 as? CardError, .cardClosed("sim0")) }
        XCTAssertThrowsError(try engine.runTicks(1)) { XCTAssertEqual($0 as? CardError, .cardClosed("sim0")) }
        XCTAssertThrowsError(try engine.start { _ in })
    }

    func testCardRefusesADirectSecondOpen() throws {
        let card = SimulatedCard()
        try card.open(port: 0, blockSize: 160)
        XCTAssertThrowsError(try card.open(port: 0, blockSize: 160)) { XCTAssertEqual($0 as? CardError, .portAlreadyOpen(0)) }
        XCTAssertThrowsError(try card.open(port: 1, blockSize: 100)) { XCTAssertEqual($0 as? CardError, .invalidBlockSize(100)) }
    }

    func testRunningEngineRefusesSynchronousTicksAndSecondStart() throws {
        let engine = try Engine(card: SimulatedCard())
        try engine.start { _ in }
        defer { engine.stop() }
        XCTAssertThrowsError(try engine.runTicks(1)) { XCTAssertEqual($0 as? CardError, .engineRunning) }
        XCTAssertThrowsError(try engine.start { _ in }) { XCTAssertEqual($0 as? CardError, .engineRunning) }
    }
}

final class EngineMediaTests: XCTestCase {
    func testPlaybackFinishesAfterTheRingDrainsAndToneDurationsEnd() throws {
        let engine = try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: 80))
        try engine.open(port: 4)
        let ring = try engine.playbackRing(port: 4)
        let audio = [Int16](repeating: 1000, count: 1000)
        audio.withUnsafeBufferPointer { _ = ring.write($0.baseAddress!, count: 1000) }
        try engine.submit(EngineCommand(port: 4, .startPlayback))
        try engine.submit(EngineCommand(port: 4, .finishPlayback))
        try engine.submit(EngineCommand(port: 4, .playTone(engine.toneID(for: .busy), samples: 4000)))
        var events: [EngineEvent] = []
        try engine.runTicks(100) { events.append($0) }
        let finished = events.first { $0.kind == .playbackFinished }
        XCTAssertEqual(finished?.lineTime, 960, "1000 samples end during the 13th 80-sample block")
        XCTAssertEqual(events.first { $0.kind == .toneFinished }?.lineTime, 3920)
    }

    func testTimersFireAtTheirLineTimeAndCanBeCancelled() throws {
        let engine = try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: 8))
        try engine.open(port: 0)
        try engine.submit(EngineCommand(port: 0, .setTimer(id: 1, lineTime: 8000)))
        try engine.submit(EngineCommand(port: 0, .setTimer(id: 2, lineTime: 4000)))
        try engine.submit(EngineCommand(port: 0, .setTimer(id: 3, lineTime: 2000)))
        try engine.submit(EngineCommand(port: 0, .cancelTimer(id: 3)))
        var fired: [(Int32, Int64)] = []
        try engine.runTicks(1100) { if case .timer(let id) = $0.kind { fired.append((id, $0.lineTime + 8)) } }
        XCTAssertEqual(fired.map(\.0), [2, 1])
        XCTAssertEqual(fired.map(\.1), [4000, 8000], "each fires in the tick that reaches its line time")
    }

    func testLineTimeIsTheSampleCount() throws {
        let engine = try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: 8))
        try engine.runTicks(1000)
        XCTAssertEqual(engine.lineTime, 8000)
        XCTAssertEqual(engine.statistics.ticks, 1000)
    }
}

final class EngineClockTests: XCTestCase {
    /// In virtual mode the engine runs far faster than real time, and line time holds still
    /// while an event is handled, so a reaction lands at the line time of the event.
    func testVirtualClockHoldsWhileEventsAreHandled() throws {
        let card = SimulatedCard()
        let engine = try Engine(card: card, configuration: EngineConfiguration(blockSize: 160, clock: .virtual))
        try engine.open(port: 0)
        try engine.submit(EngineCommand(port: 0, .detectCallProgress(true)))
        try engine.submit(EngineCommand(port: 0, .detectDigits(true)))
        let log = Mutex<[EngineEvent]>([])
        let start = ContinuousClock.now
        try engine.start { event in
            log.withLock { $0.append(event) }
            if event.kind == .callProgressStarted(.dial) {
                // React slowly in wall time: virtual line time must not move meanwhile.
                usleep(50_000)
                try? engine.submit(EngineCommand(port: 0, .sendDigits(DigitString("200")!)))
            }
        }
        try engine.submit(EngineCommand(port: 0, .hook(.offHook)))
        while !log.withLock({ $0.contains { $0.kind == .digitStarted(UInt8(ascii: "4"), level: $0.kindLevel) } }) {
            usleep(1000)
            if ContinuousClock.now - start > .seconds(20) { break }
        }
        engine.stop()
        let events = log.withLock { $0 }
        let dial = try XCTUnwrap(events.first { $0.kind == .callProgressStarted(.dial) })
        let sent = try XCTUnwrap(events.first { $0.kind == .digitsSent })
        // Three digits take 315 ms of line time; the 50 ms wall-clock pause added none.
        XCTAssertEqual(sent.lineTime - dial.lineTime, 315 * 8, accuracy: 2 * 160)
        XCTAssertTrue(events.contains { if case .digitStarted(UInt8(ascii: "4"), _) = $0.kind { true } else { false } })
        XCTAssertGreaterThan(Double(engine.lineTime) / 8000, 10, "the person answered after two rings")
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(10))
    }

    func testClockHoldStopsVirtualTime() throws {
        let engine = try Engine(card: SimulatedCard(), configuration: EngineConfiguration(clock: .virtual))
        var hold: ClockHold? = engine.holdClock()
        try engine.start { _ in }
        defer { engine.stop() }
        usleep(50_000)
        XCTAssertEqual(engine.lineTime, 0)
        hold = nil
        usleep(50_000)
        XCTAssertGreaterThan(engine.lineTime, 8000, "virtual time runs faster than the wall clock")
        _ = hold
    }

    func testPacedClockFollowsTheWallClock() throws {
        let engine = try Engine(card: SimulatedCard(), configuration: EngineConfiguration(blockSize: 8, clock: .paced, realtime: false))
        try engine.start { _ in }
        let start = ContinuousClock.now
        usleep(500_000)
        let lineTime = engine.lineTime
        let elapsed = ContinuousClock.now - start
        engine.stop()
        let wall = Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds)
        XCTAssertEqual(Double(lineTime) / 8000, wall, accuracy: 0.05)
    }
}

private extension EngineEvent {
    var kindLevel: Int32 { if case .digitStarted(_, let level) = kind { level } else { 0 } }
}
