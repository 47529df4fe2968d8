import CDTMFKernel
import Foundation

/// Detects DTMF digits to ITU-T Q.24, reporting each digit's start and end.
///
/// spandsp's `dtmf_rx` cannot be tuned to Q.24 (docs/DTMF-CONFORMANCE.md has the figures):
/// its tone-to-total-energy test refuses C, # and D 1.5 % off, and its 102-sample Goertzel
/// filters are too wide to tell 1.5 % from 4 %. This detector keeps spandsp's structure
/// (Goertzel filters over 102-sample blocks, twist and relative-peak tests, two agreeing blocks
/// to change state), relaxes the energy test, and adds a frequency test: before a digit is
/// confirmed, each of its tones must read at least as strong in a filter at its nominal
/// frequency as in filters 5 % either side (through a Hann window, whose response is
/// symmetric), which holds exactly when the tone is within 2.5 % of nominal. The arithmetic
/// is in C (CDTMFKernel) so that it runs optimised in every build.
///
/// Safe inside the tick: all memory is made in `init`; `process` calls back through a
/// non-escaping closure.
public final class DTMFDetector: DTMFDetecting {
    /// One confirmed change of the received digit.
    public struct Report: Sendable, Equatable {
        /// The ASCII digit that began, or 0 when the current digit ended.
        public var digit: UInt8
        /// Level in dBm0 of the block that confirmed a digit's start (-99 at the end).
        public var level: Int32
        /// The length in samples of the state that just ended, in whole 102-sample blocks:
        /// the silence before the digit at a start, the digit at its end. Summing them gives
        /// each change's time from the first sample, the confirmation delay cancelling out.
        public var samples: Int32

        public init(digit: UInt8, level: Int32, samples: Int32) {
            self.digit = digit
            self.level = level
            self.samples = samples
        }
    }

    /// Samples per analysis block (12.75 ms): short enough that a 40 ms tone fills two
    /// blocks wherever it starts, long enough to separate neighbouring DTMF frequencies.
    public static let blockLength = Int(LC_DTMF_BLOCK)

    public private(set) var filterDialTone: Bool
    public let twist: Int
    public let reverseTwist: Int
    public let threshold: Int

    @usableFromInline let kernel: UnsafeMutablePointer<lc_dtmf_kernel>
    private let energies: UnsafeMutablePointer<Float>
    private let neighbourhood: UnsafeMutablePointer<Float>
    private let keys: UnsafeMutablePointer<UInt8>
    private let minimumToneEnergy: Float
    private let normalTwistLimit: Float
    private let reverseTwistLimit: Float
    private var lastHit: UInt8 = 0
    private var inDigit: UInt8 = 0
    private var duration: Int32 = 0

    /// The Goertzel filters read a tone 1.5 % off its nominal frequency up to 1.5 dB low, so
    /// twist is measured with 2 dB in hand: a pair at the stated twist is accepted anywhere
    /// within Q.24's frequency tolerance.
    static let twistAllowance: Float = 2
    /// Another filter of the same group within 8 dB of the strongest means no digit.
    static let relativePeak: Float = 6.31
    /// The two tones must carry this share of the block's energy. A pair exactly on frequency
    /// carries all of it; with both tones 1.5 % off, D's reads about 80 % (spandsp asks 82 %,
    /// and refuses it). Measured: 65 % let speech through (6 false digits an hour), 72 % none
    /// in an hour while every digit is still accepted 1.8 % off.
    static let toneShare: Float = 0.72

    /// - Parameters:
    ///   - filterDialTone: notch out 350 and 440 Hz (needed while dial tone may be present).
    ///   - twist / reverseTwist: accepted twist in dB (Q.24: 8 normal, low tone louder;
    ///     4 reverse, high tone louder).
    ///   - threshold: minimum level of each tone in dBm0.
    public init(filterDialTone: Bool = false, twist: Int = 8, reverseTwist: Int = 4, threshold: Int = -42) {
        kernel = .allocate(capacity: 1)
        lc_dtmf_kernel_init(kernel, filterDialTone ? 1 : 0)
        energies = .allocate(capacity: 8)
        energies.initialize(repeating: 0, count: 8)
        neighbourhood = .allocate(capacity: 6)
        neighbourhood.initialize(repeating: 0, count: 6)
        keys = .allocate(capacity: 16)
        for (i, key) in "123A456B789C*0#D".utf8.enumerated() { keys[i] = key }
        self.filterDialTone = filterDialTone
        self.twist = twist
        self.reverseTwist = reverseTwist
        self.threshold = threshold
        // A full-scale sine is +3.14 dBm0; a tone of amplitude A reads A²N²/4.
        let amplitude = 32767 * pow(10, (Float(threshold) - 3.14) / 20)
        let n = Float(LC_DTMF_BLOCK)
        minimumToneEnergy = amplitude * amplitude * n * n / 4
        normalTwistLimit = pow(10, (Float(twist) + Self.twistAllowance) / 10)
        reverseTwistLimit = pow(10, (Float(reverseTwist) + Self.twistAllowance) / 10)
    }

    deinit {
        kernel.deallocate()
        energies.deallocate()
        neighbourhood.deallocate()
        keys.deallocate()
    }

    /// Turns the 350/440 Hz notch filters on or off (safe in the tick).
    public func setFilterDialTone(_ on: Bool) {
        filterDialTone = on
        kernel.pointee.filter_dial_tone = on ? 1 : 0
    }

    /// Forgets any digit in progress.
    public func reset() {
        lc_dtmf_kernel_reset(kernel)
        lastHit = 0
        inDigit = 0
        duration = 0
    }

    /// Processes one block of any length and calls `report` for each confirmed start or end
    /// of a digit.
    @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, report: (Report) -> Void) {
        var offset = 0
        while offset < count {
            offset += Int(lc_dtmf_fill(kernel, samples + offset, Int32(count - offset)))
            if kernel.pointee.filled == LC_DTMF_BLOCK { endOfBlock(report) }
        }
    }

    private func endOfBlock(_ report: (Report) -> Void) {
        let total = lc_dtmf_analyse(kernel, energies)
        kernel.pointee.filled = 0
        duration += LC_DTMF_BLOCK
        let key = classify(total: total)
        var hit = key.map { keys[$0] } ?? 0
        if let key, hit != inDigit, !onFrequency(key) { hit = 0 }
        // As spandsp: a change needs two blocks that agree (a start) or two that differ from
        // the digit (an end), so one odd block in a digit neither ends it nor starts another.
        if hit != inDigit, lastHit != inDigit {
            hit = (hit != 0 && hit == lastHit) ? hit : 0
            if inDigit != 0 || hit != 0 {
                report(Report(digit: hit, level: hit == 0 ? -99 : Self.level(total), samples: duration))
                duration = 0
            }
            inDigit = hit
        }
        lastHit = hit
    }

    /// The key (row × 4 + column, 0-15) this block's tones make, by level, twist, peak and
    /// energy share; nil if none.
    private func classify(total: Float) -> Int? {
        let e = energies
        var row = 0, column = 4
        for i in 1..<4 {
            if e[i] > e[row] { row = i }
            if e[4 + i] > e[column] { column = 4 + i }
        }
        let low = e[row], high = e[column]
        guard low >= minimumToneEnergy, high >= minimumToneEnergy,
              low <= high * normalTwistLimit, high <= low * reverseTwistLimit else { return nil }
        for i in 0..<4 {
            if i != row, e[i] * Self.relativePeak > low { return nil }
            if 4 + i != column, e[4 + i] * Self.relativePeak > high { return nil }
        }
        guard low + high >= Self.toneShare * Float(LC_DTMF_BLOCK / 2) * total else { return nil }
        return row * 4 + column - 4
    }

    /// Whether both tones of `key` (0-15) are within 2.5 % of nominal in this block.
    private func onFrequency(_ key: Int) -> Bool {
        lc_dtmf_neighbourhood(kernel, Int32(key / 4), Int32(4 + key % 4), neighbourhood)
        let n = neighbourhood
        return n[1] >= n[0] && n[1] >= n[2] && n[4] >= n[3] && n[4] >= n[5]
    }

    private static func level(_ total: Float) -> Int32 {
        let meanSquare = max(total / Float(LC_DTMF_BLOCK), 1)
        return Int32((10 * log10(meanSquare / (32767 * 32767 / 2)) + 3.14).rounded())
    }

}

/// What both DTMF detectors (ours and spandsp's) offer: blocks in, digit starts and ends out.
public protocol DTMFDetecting: AnyObject {
    /// Processes one block and calls `report` for each confirmed start or end of a digit.
    func process(_ samples: UnsafePointer<Int16>, count: Int, report: (DTMFDetector.Report) -> Void)
}

extension DTMFDetecting {
    /// Convenience for whole signals (outside the tick): the digits detected, in order.
    public func digits(in samples: [Int16], blockSize: Int = 160) -> String {
        var result = ""
        samples.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = min(blockSize, buffer.count - offset)
                process(buffer.baseAddress! + offset, count: n) { r in
                    if r.digit != 0 { result.append(Character(Unicode.Scalar(r.digit))) }
                }
                offset += n
            }
        }
        return result
    }
}
