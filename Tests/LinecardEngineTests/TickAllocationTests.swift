import AllocationCounter
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// The tick must not allocate. This runs thousands of ticks with every pipeline stage busy
/// (digit and tone generation and detection, call-progress detection, playback, recording,
/// level meters, a bridge) through whole calls on the simulated exchange, and counts the
/// heap allocations the ticking thread makes inside `runTicks`, by interposing malloc.
///
/// The first pass is a warm-up and is not judged: the Swift runtime makes some type
/// metadata the first time a generic type is used in the process (a debug build uses more of
/// them), once. What the test proves is the steady state: every later call allocates nothing.
final class TickAllocationTests: XCTestCase {
    func testTickMakesNoHeapAllocationWithEveryStageBusy() throws {
        guard linecard_allocation_counting_available() != 0 else {
            throw XCTSkip("a sanitizer owns the allocator in this build; the normal build runs this test")
        }
        for (judged, blockSize) in [(false, 8), (true, 8), (true, 160)] {
            let card = SimulatedCard(fxoPorts: 4, fxsPorts: 2)
            // Two local ports after the card's six, patched to hear port 0 (7 detects its digits).
            let engine = try Engine(card: LocalPortsBackend(card: card, count: 2),
                                    configuration: EngineConfiguration(blockSize: blockSize, clock: .virtual))
            for port in 6..<8 { try engine.open(port: port) }
            for port in 0..<6 {
                try engine.open(port: port)
                for op: EngineCommand.Operation in [.detectDigits(true), .detectCallProgress(true), .meterLevels(true), .record(true),
                                                    .detectBeeps(true), .detectCallerID(true), .detectFaxTones(true), .detectActivity(threshold: -40, startMilliseconds: 40, stopMilliseconds: 300)] {
                    try engine.submit(EngineCommand(port: port, op))
                }
            }
            try engine.submit(EngineCommand(port: 6, .patch(to: 0)))
            try engine.submit(EngineCommand(port: 7, .patch(to: 0)))
            try engine.submit(EngineCommand(port: 7, .detectDigits(true)))
            let dial = DigitString("201")!
            let digits = DigitString("0123456789ABCD*#0123456789ABCD*#")!
            let tone = engine.toneID(for: .ringback)
            var audio = [Int16](repeating: 0, count: 4096)
            for i in audio.indices { audio[i] = Int16(8000 * sin(Double(i) * 0.3)) }
            var drain = [Int16](repeating: 0, count: 8192)
            try card.answerWhenRung(port: 4, afterRings: 1)
            try card.placeCall(toPort: 3, caller: Person(answerAfterRings: 50, digits: "99"))

            // Warm up: first use of types may allocate metadata once.
            try engine.runTicks(200)

            var allocations: UInt64 = 0
            var ticks = 0
            // Set LINECARD_ALLOCATION_BACKTRACES=N to see where the tick allocates.
            let traces = Int32(ProcessInfo.processInfo.environment["LINECARD_ALLOCATION_BACKTRACES"] ?? "") ?? 0
            func measure(_ count: Int) throws {
                linecard_print_allocation_backtraces(traces)
                let before = linecard_thread_allocations()
                try engine.runTicks(count) { _ in }
                linecard_print_allocation_backtraces(0)
                allocations += linecard_thread_allocations() - before
                ticks += count
            }
            func keepBusy() throws {
                for port in 0..<6 {
                    let playback = try engine.playbackRing(port: port)
                    audio.withUnsafeBufferPointer { _ = playback.write($0.baseAddress!, count: min(playback.space, $0.count)) }
                    let record = try engine.recordRing(port: port)
                    drain.withUnsafeMutableBufferPointer { _ = record.read(into: $0.baseAddress!, count: $0.count) }
                }
            }

            // Port 0 calls the echoing person; port 1 calls port 2; port 3 takes an incoming
            // call; port 4 rings its telephone; port 5 plays tones and digits to its phone.
            try engine.submit(EngineCommand(port: 0, .hook(.offHook)))
            try engine.submit(EngineCommand(port: 1, .hook(.offHook)))
            try engine.submit(EngineCommand(port: 4, .hook(.ringStart)))
            try card.liftHandset(port: 5)
            try measure(3 * 8000 / blockSize)
            try engine.submit(EngineCommand(port: 0, .sendDigits(dial)))
            try engine.submit(EngineCommand(port: 1, .sendDigits(DigitString("102")!)))
            try measure(2 * 8000 / blockSize)
            try engine.submit(EngineCommand(port: 2, .hook(.offHook)))
            try engine.submit(EngineCommand(port: 3, .hook(.offHook)))
            for port in 0..<6 {
                try engine.submit(EngineCommand(port: port, .startPlayback))
                try engine.submit(EngineCommand(port: port, .playTone(tone, samples: 0)))
                try engine.submit(EngineCommand(port: port, .sendDigits(digits)))
            }
            try engine.submit(EngineCommand(port: 5, .listen(to: 4)))
            for round in 0..<40 {
                for port in 0..<6 {
                    try engine.submit(EngineCommand(port: port, .setTimer(id: Int32(round), lineTime: engine.lineTime + 400)))
                }
                try keepBusy()
                try measure(800 / blockSize * 4)
            }
            for port in 0..<6 {
                try engine.submit(EngineCommand(port: port, .finishPlayback))
                try engine.submit(EngineCommand(port: port, .hook(.onHook)))
            }
            try measure(2 * 8000 / blockSize)

            XCTAssertGreaterThan(ticks * blockSize, 8000 * 20, "at least 20 s of line time")
            guard judged else { continue }
            XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in \(ticks) ticks of \(blockSize) samples")
            // The count works: something that allocates is seen.
            let before = linecard_thread_allocations()
            let box = [Int](repeating: 1, count: Int(linecard_thread_allocations() % 7) + 100)
            XCTAssertGreaterThan(linecard_thread_allocations() - before, 0, "allocation counter sees \(box.count)")
        }
    }
}
