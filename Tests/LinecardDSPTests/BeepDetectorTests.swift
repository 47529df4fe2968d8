import LinecardDSP
import XCTest

/// The answering-machine beep detector on generated signals.
final class BeepDetectorTests: XCTestCase {
    private func tone(_ frequencies: [Double], milliseconds: Int, level: Double = -20) -> [Int16] {
        let amplitude = 32767.0 * pow(10, (level - 3.14) / 20) / Double(frequencies.count)
        return (0..<milliseconds * 8).map { i in
            Int16(frequencies.reduce(0.0) { $0 + amplitude * sin(2 * .pi * $1 * Double(i) / 8000) })
        }
    }

    private func reports(_ samples: [Int16], block: Int = 8) -> [BeepDetector.Report] {
        let detector = BeepDetector()
        var all: [BeepDetector.Report] = []
        samples.withUnsafeBufferPointer { buffer in
            var i = 0
            while i < buffer.count {
                let n = min(block, buffer.count - i)
                detector.process(buffer.baseAddress! + i, count: n) { all.append($0) }
                i += n
            }
        }
        return all
    }

    func testBeepsAcrossTheBandAreFoundWithTheirFrequencyAndLength() {
        for frequency in [400.0, 425, 440, 1000, 1020, 1400, 1975, 2075] {
            let signal = [Int16](repeating: 0, count: 800) + tone([frequency], milliseconds: 400) + [Int16](repeating: 0, count: 2400)
            let found = reports(signal, block: frequency == 1000 ? 160 : 8)
            XCTAssertEqual(found.count, 2, "\(frequency) Hz: \(found)")
            if case .started(let f, let level)? = found.first {
                XCTAssertLessThanOrEqual(abs(Double(f) - frequency), 50, "\(frequency) Hz read as \(f)")
                XCTAssertEqual(Double(level), -20, accuracy: 2)
            } else { XCTFail("\(frequency) Hz: \(found)") }
            if case .ended(let ms)? = found.last {
                XCTAssertEqual(Double(ms), 400, accuracy: 60, "\(frequency) Hz")
            } else { XCTFail("\(frequency) Hz: \(found)") }
        }
    }

    func testDTMFQuietTonesNoiseAndGlidesAreNotBeeps() {
        XCTAssertEqual(reports(tone([697, 1209], milliseconds: 500)), [], "DTMF splits its energy between two tones")
        XCTAssertEqual(reports(tone([1000], milliseconds: 500, level: -50)), [], "too quiet")
        var seed: UInt64 = 1
        let noise = (0..<8000).map { _ -> Int16 in
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int16(truncatingIfNeeded: Int(seed >> 49) - 16384) / 4
        }
        XCTAssertEqual(reports(noise), [], "white noise")
        // A voice-like glide: the pitch moves 40 % in 250 ms, as speech does.
        var phase = 0.0
        let glide = (0..<2000).map { i -> Int16 in
            phase += 2 * .pi * (600 + 240 * Double(i) / 2000) / 8000
            return Int16(6000 * sin(phase))
        }
        // A whistle that glides is tonal, but never steady for the 180 ms a beep needs.
        let longest = reports(glide).compactMap { r -> Int32? in if case .ended(let ms) = r { ms } else { nil } }.max() ?? 0
        XCTAssertLessThan(longest, 180, "a glide is not a steady beep")
        XCTAssertEqual(reports(tone([1000], milliseconds: 20)), [], "a 20 ms click is not a beep")
    }
}
