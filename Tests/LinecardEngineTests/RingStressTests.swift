import LinecardEngine
import XCTest

/// Two threads move tens of millions of samples through one ring, in uneven chunks, and
/// compare checksums. CI also runs this under ThreadSanitizer.
final class RingStressTests: XCTestCase {
    func testTwoThreadsMoveTwentyMillionSamplesIntact() throws {
        let total = 20_000_000
        let ring = SampleRing(capacity: 4096)
        let producerSum = Checksum()
        let producer = Thread {
            var chunk = [Int16](repeating: 0, count: 333)
            var sent = 0
            var sum: UInt64 = 0
            var value: UInt32 = 12345
            while sent < total {
                let n = min(chunk.count, total - sent, 1 + sent % 331)
                for i in 0..<n {
                    value = value &* 1_103_515_245 &+ 12345
                    chunk[i] = Int16(truncatingIfNeeded: value >> 8)
                    sum = sum &* 31 &+ UInt64(UInt16(bitPattern: chunk[i]))
                }
                var offset = 0
                while offset < n {
                    offset += chunk.withUnsafeBufferPointer { ring.write($0.baseAddress! + offset, count: n - offset) }
                }
                sent += n
            }
            producerSum.set(sum)
        }
        producer.start()
        var received = 0
        var sum: UInt64 = 0
        var chunk = [Int16](repeating: 0, count: 500)
        while received < total {
            let n = chunk.withUnsafeMutableBufferPointer { ring.read(into: $0.baseAddress!, count: 1 + received % 499) }
            for i in 0..<n { sum = sum &* 31 &+ UInt64(UInt16(bitPattern: chunk[i])) }
            received += n
        }
        while producerSum.value == nil { usleep(100) }
        XCTAssertEqual(received, total)
        XCTAssertEqual(sum, producerSum.value)
        XCTAssertEqual(ring.overruns, 0)
    }

    func testOverrunsAndUnderrunsAreCounted() {
        let ring = SampleRing(capacity: 100)
        XCTAssertEqual(ring.capacity, 128)
        let block = [Int16](repeating: 7, count: 100)
        block.withUnsafeBufferPointer {
            ring.writeDroppingExcess($0.baseAddress!, count: 100)
            ring.writeDroppingExcess($0.baseAddress!, count: 100)
        }
        XCTAssertEqual(ring.overruns, 72)
        XCTAssertEqual(ring.available, 128)
        var out = [Int16](repeating: 1, count: 160)
        let n = out.withUnsafeMutableBufferPointer { ring.readBlock(into: $0.baseAddress!, count: 160) }
        XCTAssertEqual(n, 128)
        XCTAssertEqual(ring.underruns, 1)
        XCTAssertEqual(out[127], 7)
        XCTAssertEqual(out[128], 0, "a short block is filled with silence")
    }

    func testQueuesHoldWhatFitsAndCountDrops() {
        let queue = SPSCQueue<Int64>(capacity: 3)
        XCTAssertEqual(queue.capacity, 4)
        for i in 0..<5 { queue.push(Int64(i)) }
        XCTAssertEqual(queue.droppedCount, 1)
        XCTAssertEqual((0..<5).compactMap { _ in queue.pop() }, [0, 1, 2, 3])
    }

    func testCommandQueueTakesManyProducers() throws {
        let queue = CommandQueue<Int32>(capacity: 1 << 16)
        let threads = (0..<4).map { t in
            Thread { for i in 0..<10_000 { _ = queue.push(Int32(t * 100_000 + i)) } }
        }
        threads.forEach { $0.start() }
        var seen = [Int32]()
        while seen.count < 40_000 {
            if let v = queue.pop() { seen.append(v) } else { usleep(10) }
        }
        XCTAssertEqual(Set(seen).count, 40_000)
        for t in 0..<4 {
            let mine = seen.filter { $0 / 100_000 == t }
            XCTAssertEqual(mine, mine.sorted(), "each producer's order is kept")
        }
    }
}

import Synchronization

final class Checksum: Sendable {
    private let stored = Mutex<UInt64?>(nil)
    func set(_ v: UInt64) { stored.withLock { $0 = v } }
    var value: UInt64? { stored.withLock { $0 } }
}
