import CSpanDSP

/// Q.24 asks that a digit whose tone is more than 3.5 % off its nominal frequency be
/// rejected; spandsp 0.0.6's dtmf_rx takes some up to 4 %. At each digit spandsp accepts,
/// this looks again at the last 25.6 ms of audio through spandsp Goertzel filters at each
/// of the digit's two frequencies and 5 % either side, over a Hann window. The window's
/// response is symmetric, so a tone that comes out stronger in a side filter than in the
/// nominal one is more than 2.5 % off: rejected. A tone within 1.5 % is never touched.
///
/// Safe inside the tick: everything is made here, and nothing generic or lazy is touched
/// when it runs.
final class DTMFFrequencyCheck {
    static let length = 205
    private let history: UnsafeMutablePointer<Int16>
    private var position = 0
    private let window: UnsafeMutablePointer<Float>
    private let windowed: UnsafeMutablePointer<Int16>
    /// For each of the 8 DTMF frequencies: filters at 0.95 f, f and 1.05 f.
    private let descriptors: UnsafeMutablePointer<goertzel_descriptor_t>
    private let filter: UnsafeMutablePointer<goertzel_state_t>

    init() {
        let n = Self.length
        history = .allocate(capacity: n)
        history.initialize(repeating: 0, count: n)
        windowed = .allocate(capacity: n)
        windowed.initialize(repeating: 0, count: n)
        window = .allocate(capacity: n)
        for i in 0..<n { window[i] = Float(0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1))) }
        descriptors = .allocate(capacity: 24)
        let frequencies: [Float] = [697, 770, 852, 941, 1209, 1336, 1477, 1633]
        for (t, f) in frequencies.enumerated() {
            for (j, factor) in [Float(0.95), 1, 1.05].enumerated() {
                make_goertzel_descriptor(descriptors + 3 * t + j, f * factor, Int32(n))
            }
        }
        filter = .allocate(capacity: 1)
        goertzel_init(filter, descriptors)
    }

    deinit {
        history.deallocate()
        windowed.deallocate()
        window.deallocate()
        descriptors.deallocate()
        filter.deallocate()
    }

    func reset() {
        history.update(repeating: 0, count: Self.length)
        position = 0
    }

    @inline(__always)
    func append(_ samples: UnsafePointer<Int16>, count: Int) {
        var i = 0
        while i < count {
            history[position] = samples[i]
            position = position + 1 == Self.length ? 0 : position + 1
            i += 1
        }
    }

    /// Whether `digit`'s tones in the last 25.6 ms are within about 2.5 % of nominal.
    func accepts(_ digit: UInt8) -> Bool {
        let (row, column): (Int, Int)
        switch digit {
        case UInt8(ascii: "1"): (row, column) = (0, 0)
        case UInt8(ascii: "2"): (row, column) = (0, 1)
        case UInt8(ascii: "3"): (row, column) = (0, 2)
        case UInt8(ascii: "A"): (row, column) = (0, 3)
        case UInt8(ascii: "4"): (row, column) = (1, 0)
        case UInt8(ascii: "5"): (row, column) = (1, 1)
        case UInt8(ascii: "6"): (row, column) = (1, 2)
        case UInt8(ascii: "B"): (row, column) = (1, 3)
        case UInt8(ascii: "7"): (row, column) = (2, 0)
        case UInt8(ascii: "8"): (row, column) = (2, 1)
        case UInt8(ascii: "9"): (row, column) = (2, 2)
        case UInt8(ascii: "C"): (row, column) = (2, 3)
        case UInt8(ascii: "*"): (row, column) = (3, 0)
        case UInt8(ascii: "0"): (row, column) = (3, 1)
        case UInt8(ascii: "#"): (row, column) = (3, 2)
        case UInt8(ascii: "D"): (row, column) = (3, 3)
        default: return true
        }
        // Oldest sample first, through the window.
        var i = 0, j = position
        while i < Self.length {
            windowed[i] = Int16(clamping: Int((Float(history[j]) * window[i]).rounded()))
            j = j + 1 == Self.length ? 0 : j + 1
            i += 1
        }
        return near(tone: row) && near(tone: 4 + column)
    }

    private func near(tone t: Int) -> Bool {
        let below = energy(3 * t), nominal = energy(3 * t + 1), above = energy(3 * t + 2)
        return nominal >= below && nominal >= above
    }

    private func energy(_ k: Int) -> Float {
        goertzel_init(filter, descriptors + k)
        _ = goertzel_update(filter, windowed, Int32(Self.length))
        return goertzel_result(filter)
    }
}
