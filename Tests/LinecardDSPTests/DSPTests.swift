import CAlsa
import CTiff
import LinecardDSP
import XCTest

final class DTMFTests: XCTestCase {
    func testAllSixteenDigitsRoundTripAtDefaultTiming() {
        let generator = DTMFGenerator()
        XCTAssertEqual(generator.enqueue("0123456789ABCD*#"), 16)
        var samples = [Int16](repeating: 0, count: 16 * 105 * 8 + 800)
        let n = samples.withUnsafeMutableBufferPointer { generator.generate(into: $0.baseAddress!, count: $0.count) }
        XCTAssertEqual(n, 16 * 105 * 8, "50 ms on, 55 ms off per digit")
        XCTAssertEqual(DTMFDetector().digits(in: samples), "0123456789ABCD*#")
    }

    func testReportsStartLevelAndEndDuration() {
        let generator = DTMFGenerator(level: -20, onTimeMilliseconds: 80, offTimeMilliseconds: 80)
        generator.enqueue("5")
        var samples = [Int16](repeating: 0, count: 2000)
        _ = samples.withUnsafeMutableBufferPointer { generator.generate(into: $0.baseAddress!, count: $0.count) }
        var reports: [DTMFDetector.Report] = []
        let detector = DTMFDetector()
        samples.withUnsafeBufferPointer { buffer in
            for block in stride(from: 0, to: buffer.count, by: 160) {
                detector.process(buffer.baseAddress! + block, count: min(160, buffer.count - block)) { reports.append($0) }
            }
        }
        XCTAssertEqual(reports.count, 2)
        XCTAssertEqual(reports[0].digit, UInt8(ascii: "5"))
        XCTAssertEqual(Double(reports[0].level), -17, accuracy: 3, "two tones at -20 dBm0 each")
        XCTAssertEqual(reports[1].digit, 0)
    }

    func testQueueIsBoundedAndResetClearsIt() {
        let generator = DTMFGenerator()
        XCTAssertEqual(generator.enqueue(String(repeating: "1", count: 200)), DTMFGenerator.queueCapacity)
        generator.reset()
        var samples = [Int16](repeating: 0, count: 160)
        XCTAssertEqual(samples.withUnsafeMutableBufferPointer { generator.generate(into: $0.baseAddress!, count: 160) }, 0)
    }
}

final class ToneTests: XCTestCase {
    func testToneLevelsAreAsSpecified() {
        let single = ToneGenerator.render(.continuous(1000, level: -10), milliseconds: 500)
        XCTAssertEqual(PowerMeter.level(of: single), -10, accuracy: 0.5)
        let dual = ToneGenerator.render(.continuous(350, 440, level: -13), milliseconds: 500)
        XCTAssertEqual(PowerMeter.level(of: dual), -10, accuracy: 0.5, "two tones at -13 dBm0 sum to -10")
    }

    func testCadenceSwitchesOnAndOff() {
        let busy = ToneGenerator.render(TonePlan.us.tones[.busy]!, milliseconds: 2000)
        XCTAssertGreaterThan(PowerMeter.level(of: Array(busy[800..<3200])), -25)
        XCTAssertLessThan(PowerMeter.level(of: Array(busy[4800..<7200])), -80)
    }

    func testEveryPlansTonesAreRecognisedAndNotConfused() {
        for plan in [TonePlan.us, .uk, .eu] {
            for tone in TonePlan.detectionOrder where tone != .specialInformation {
                let audio = ToneGenerator.render(plan.tones[tone]!, milliseconds: 8000)
                let detector = SupervisoryToneDetector(plan.makeDetectionSet())
                var heard: [CallProgressTone] = []
                audio.withUnsafeBufferPointer { buffer in
                    for block in stride(from: 0, to: buffer.count, by: 160) {
                        detector.process(buffer.baseAddress! + block, count: 160) { code in
                            if code >= 0 { heard.append(TonePlan.detectionOrder[code]) }
                        }
                    }
                }
                XCTAssertFalse(heard.isEmpty, "\(plan.country) \(tone) not recognised")
                XCTAssertEqual(Set(heard), [tone], "\(plan.country) \(tone) heard as \(heard)")
            }
        }
    }

    func testSpeechIsNotACallProgressTone() {
        // Three seconds of varied harmonic "speech" must not look like any tone.
        var speech: [Int16] = []
        var phase = 0.0
        for i in 0..<24_000 {
            let f0 = 120 + 60 * sin(Double(i) / 900)
            phase += 2 * Double.pi * f0 / 8000
            var v = 0.0
            for k in 1...12 { v += sin(Double(k) * phase) / Double(k) }
            let envelope = max(0, sin(Double(i) / 400))
            speech.append(Int16(v * envelope * 3000))
        }
        let detector = SupervisoryToneDetector(TonePlan.us.makeDetectionSet())
        var heard = 0
        speech.withUnsafeBufferPointer { buffer in
            for block in stride(from: 0, to: buffer.count, by: 160) {
                detector.process(buffer.baseAddress! + block, count: 160) { if $0 >= 0 { heard += 1 } }
            }
        }
        XCTAssertEqual(heard, 0)
    }
}

final class CodecAndLevelTests: XCTestCase {
    func testG711RoundTripKeepsSignalToNoise() {
        for law in G711Law.allCases {
            var tone = ToneGenerator.render(.continuous(1004, level: -10), milliseconds: 200)
            let original = tone
            tone.withUnsafeMutableBufferPointer { law.roundTrip($0.baseAddress!, count: $0.count) }
            var signal = 0.0, noise = 0.0
            for (a, b) in zip(original, tone) {
                signal += Double(a) * Double(a)
                noise += Double(Int(a) - Int(b)) * Double(Int(a) - Int(b))
            }
            XCTAssertGreaterThan(10 * log10(signal / noise), 33, "\(law) SNR at -10 dBm0")
        }
        XCTAssertEqual(G711Law.alaw.decode(G711Law.alaw.encode(0)), 8)
    }

    func testPowerMeterAndNoiseLevels() {
        let meter = PowerMeter()
        var tone = ToneGenerator.render(.continuous(1000, level: -20), milliseconds: 200)
        tone.withUnsafeBufferPointer { meter.update($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(meter.dBm0, -20, accuracy: 1)
        var silence = [Int16](repeating: 0, count: 8000)
        NoiseGenerator(level: -40).add(to: &silence, count: silence.count)
        XCTAssertEqual(PowerMeter.level(of: silence), -40, accuracy: 1)
        tone.removeAll()
    }

    func testSystemLibrariesLink() {
        XCTAssertTrue(String(cString: snd_asoundlib_version()).hasPrefix("1."))
        XCTAssertTrue(String(cString: TIFFGetVersion()).contains("LIBTIFF"))
    }
}

import Foundation
