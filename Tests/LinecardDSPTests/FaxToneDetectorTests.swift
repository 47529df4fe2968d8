import Foundation
import LinecardDSP
import XCTest

final class FaxToneDetectorTests: XCTestCase {
    static func sine(_ frequency: Double, level: Double, milliseconds: Int) -> [Int16] {
        let amplitude = 32767 * pow(10, (level - 3.14) / 20)
        return (0..<(milliseconds * 8)).map { Int16((amplitude * sin(2 * .pi * frequency * Double($0) / 8000)).rounded()) }
    }

    static func silence(_ milliseconds: Int) -> [Int16] { [Int16](repeating: 0, count: milliseconds * 8) }

    func testCallingToneIsRecognised() {
        let cng = Self.silence(200) + Self.sine(1100, level: -15, milliseconds: 500) + Self.silence(3000)
            + Self.sine(1100, level: -15, milliseconds: 500) + Self.silence(500)
        XCTAssertEqual(FaxToneDetector().tones(in: cng).first, .calling)
    }

    func testAnswerToneIsRecognised() {
        let ced = Self.silence(200) + Self.sine(2100, level: -12, milliseconds: 3000) + Self.silence(500)
        XCTAssertEqual(FaxToneDetector().tones(in: ced).first, .answer)
    }

    func testBeepsDigitsAndShortTonesAreNot() {
        var signal = Self.sine(1000, level: -12, milliseconds: 400) + Self.silence(500)
        signal += Self.sine(1100, level: -12, milliseconds: 150) + Self.silence(500)
        signal += Self.sine(2100, level: -12, milliseconds: 200) + Self.silence(500)
        let keypad = DTMFGenerator()
        _ = keypad.enqueue("0123456789ABCD*#")
        var block = [Int16](repeating: 0, count: 160)
        while true {
            let n = block.withUnsafeMutableBufferPointer { keypad.generate(into: $0.baseAddress!, count: 160) }
            signal += block.prefix(n)
            if n < 160 { break }
        }
        XCTAssertEqual(FaxToneDetector().tones(in: signal), [])
    }
}
