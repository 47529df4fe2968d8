import LinecardDSP

/// The audio path of one route, applying its `Impairments` in the tick.
final class ImpairmentPath {
    let impairments: Impairments
    private let gain: Int32
    private let noise: NoiseGenerator?
    private let echoGain: Int32
    let echoDelaySamples: Int
    /// No impairment at all: audio passes untouched.
    let isTransparent: Bool

    init(_ impairments: Impairments, seed: Int32) {
        self.impairments = impairments
        isTransparent = impairments.isNone
        gain = Int32((pow10(-impairments.lossDecibels / 20) * 32768).rounded())
        noise = impairments.noiseLevel.map { NoiseGenerator(level: $0, seed: seed) }
        if let echo = impairments.echo {
            echoGain = Int32((pow10(-echo.returnLossDecibels / 20) * 32768).rounded())
            echoDelaySamples = max(1, echo.delayMilliseconds * 8)
        } else {
            echoGain = 0
            echoDelaySamples = 0
        }
    }

    /// Far end → card: loss, codec, the card's own echo, noise.
    @inline(__always)
    func towardsCard(_ samples: UnsafeMutablePointer<Int16>, count: Int, echoHistory: DelayLine) {
        if isTransparent { return }
        if gain != 32768 { scale(samples, count: count, by: gain) }
        if let codec = impairments.codec { codec.roundTrip(samples, count: count) }
        if echoGain != 0 { echoHistory.addDelayed(echoDelaySamples, gain: echoGain, into: samples, count: count) }
        noise?.add(to: samples, count: count)
    }

    /// Card → far end: loss and codec.
    @inline(__always)
    func fromCard(_ samples: UnsafeMutablePointer<Int16>, count: Int) {
        if isTransparent { return }
        if gain != 32768 { scale(samples, count: count, by: gain) }
        if let codec = impairments.codec { codec.roundTrip(samples, count: count) }
    }

    @inline(__always)
    private func scale(_ samples: UnsafeMutablePointer<Int16>, count: Int, by q15: Int32) {
        for i in 0..<count { samples[i] = Int16(clamping: (Int32(samples[i]) * q15) >> 15) }
    }
}

private func pow10(_ x: Double) -> Double { exp(x * 2.302585092994046) }

import Foundation

/// The last second of what a port transmitted, for echo. Its storage belongs to the
/// exchange (one block for all lines, away from the state every tick touches).
final class DelayLine {
    static let capacity = 8192
    private let capacity = DelayLine.capacity
    private let storage: UnsafeMutablePointer<Int16>
    private var written = 0

    init(storage: UnsafeMutablePointer<Int16>) {
        self.storage = storage
        storage.initialize(repeating: 0, count: capacity)
    }

    @inline(__always)
    func append(_ samples: UnsafePointer<Int16>, count: Int) {
        for i in 0..<count { storage[(written + i) & (capacity - 1)] = samples[i] }
        written += count
    }

    /// Adds what was appended `delay` samples before each of the next `count` samples.
    @inline(__always)
    func addDelayed(_ delay: Int, gain: Int32, into samples: UnsafeMutablePointer<Int16>, count: Int) {
        for i in 0..<count {
            let index = written - delay + i
            guard index >= 0, index < written else { continue }
            let echo = (Int32(storage[index & (capacity - 1)]) * gain) >> 15
            samples[i] = Int16(clamping: Int32(samples[i]) + echo)
        }
    }

    func clear() {
        storage.update(repeating: 0, count: capacity)
    }
}
