import AllocationCounter
import DahdiCard
import LinecardDSP
import LinecardEngine
import XCTest

/// The tick must not allocate on DAHDI either: polling the channels, reading and writing
/// their blocks, draining DAHDI's events (ring, off-hook, on-hook crossing the analog pair)
/// and hook commands, with the pipelines busy on top. Counted by interposing malloc, as
/// TickAllocationTests does for the simulated card, after a warm-up that is not judged.
final class DahdiTickAllocationTests: DahdiGuestTestCase {
    func testTickMakesNoHeapAllocationOnDahdi() throws {
        guard linecard_allocation_counting_available() != 0 else { throw XCTSkip("a sanitizer owns the allocator in this build") }
        let backend = try DahdiCard(channels: [1, 5, 9, 11])
        let engine = try Engine(card: backend, configuration: EngineConfiguration(blockSize: 160))
        defer { engine.shutdown() }
        for port in 0..<4 {
            try engine.open(port: port)
            for op: EngineCommand.Operation in [.detectDigits(true), .detectCallProgress(true), .meterLevels(true), .record(true)] {
                try engine.submit(EngineCommand(port: port, op))
            }
        }
        var drain = [Int16](repeating: 0, count: 8192)
        var events = 0
        func tick(_ count: Int) throws -> UInt64 {
            let before = linecard_thread_allocations()
            try engine.runTicks(count) { _ in events += 1 }
            let made = linecard_thread_allocations() - before
            for port in 0..<4 {
                let record = try engine.recordRing(port: port)
                drain.withUnsafeMutableBufferPointer { _ = record.read(into: $0.baseAddress!, count: $0.count) }
            }
            return made
        }
        _ = try tick(50)

        var allocations: UInt64 = 0
        // Digits across the clear loop; ringing, answer and hang-up across the analog pair.
        try engine.submit(EngineCommand(port: 0, .sendDigits(DigitString("0123456789ABCD*#")!)))
        try engine.submit(EngineCommand(port: 2, .hook(.ringStart)))
        allocations += try tick(150)
        try engine.submit(EngineCommand(port: 2, .hook(.ringStop)))
        try engine.submit(EngineCommand(port: 3, .hook(.offHook)))
        try engine.submit(EngineCommand(port: 2, .playTone(engine.toneID(for: .dial), samples: 0)))
        allocations += try tick(50)
        try engine.submit(EngineCommand(port: 3, .hook(.onHook)))
        allocations += try tick(50)
        XCTAssertGreaterThan(events, 3, "DAHDI's events crossed the pair and came through the tick")
        XCTAssertEqual(allocations, 0, "\(allocations) heap allocations in 250 DAHDI ticks")
        // The count works here too: something that allocates is seen.
        let before = linecard_thread_allocations()
        let box = [Int](repeating: 1, count: Int(before % 7) + 100)
        XCTAssertGreaterThan(linecard_thread_allocations() - before, 0, "allocation counter sees \(box.count)")
    }
}
