import LinecardDSP
import Synchronization

/// Named tones a channel's `TonePlayer` can play (the reference's ToneManager): the
/// predefined ringback tones and call-progress tones, and any created with `createTone`.
public final class ToneManager: Sendable {
    /// One step of a tone: one or two frequencies for a time.
    public struct Segment: Sendable, Equatable {
        /// Hz, 0 to 9999 (0: no tone).
        public var frequencyA: Int
        /// Amplitude as dBm0 below zero: 0 to 99 (10 means -10 dBm0).
        public var amplitudeA: Int
        public var frequencyB: Int
        public var amplitudeB: Int
        /// Milliseconds, 0 to 9999.
        public var duration: Int
        /// The two frequencies are added, or B modulates A (B's amplitude is then the depth in %).
        public var modulation: Bool

        public init(frequencyA: Int, amplitudeA: Int, frequencyB: Int = 0, amplitudeB: Int = 0,
                    duration: Int, modulation: Bool = false) {
            self.frequencyA = frequencyA
            self.amplitudeA = amplitudeA
            self.frequencyB = frequencyB
            self.amplitudeB = amplitudeB
            self.duration = duration
            self.modulation = modulation
        }

        /// Silence for `duration` milliseconds.
        public static func silence(_ duration: Int) -> Segment { Segment(frequencyA: 0, amplitudeA: 0, duration: duration) }

        var spec: ToneSpec {
            frequencyA == 0 && frequencyB == 0
                ? .continuous(0, level: -99)
                : ToneSpec(frequency1: frequencyA, level1: -amplitudeA, frequency2: frequencyB,
                           level2: modulation ? amplitudeB : -amplitudeB, modulated: modulation)
        }
    }

    /// The tones every manager knows.
    public enum PredefinedTone: String, Sendable, CaseIterable {
        case ringback = "RINGBACK"
        case ringbackUK = "RINGBACK_UK"
        case ringbackEU = "RINGBACK_EU"
        case dial = "DIAL"
        case busy = "BUSY"
        case congestion = "CONGESTION"
    }

    private let tones = Mutex<[String: [Segment]]>([:])
    private let defaultName = Mutex(PredefinedTone.ringback.rawValue)

    public init() {
        var all: [String: [Segment]] = [:]
        all[PredefinedTone.ringback.rawValue] = Self.segments(TonePlan.us.tones[.ringback]!)
        all[PredefinedTone.ringbackUK.rawValue] = Self.segments(TonePlan.uk.tones[.ringback]!)
        all[PredefinedTone.ringbackEU.rawValue] = Self.segments(TonePlan.eu.tones[.ringback]!)
        all[PredefinedTone.dial.rawValue] = Self.segments(TonePlan.us.tones[.dial]!)
        all[PredefinedTone.busy.rawValue] = Self.segments(TonePlan.us.tones[.busy]!)
        all[PredefinedTone.congestion.rawValue] = Self.segments(TonePlan.us.tones[.congestion]!)
        tones.withLock { $0 = all }
    }

    /// The tone a transfer's ringback uses when none is named (RINGBACK unless set).
    public var defaultTone: String { defaultName.withLock { $0 } }

    public func setDefault(_ tone: PredefinedTone) { defaultName.withLock { $0 = tone.rawValue } }

    /// Sets the default to any known tone.
    public func setDefault(named name: String) throws {
        guard segments(named: name) != nil else { throw CallError.error("no tone named \"\(name)\" in this tone manager") }
        defaultName.withLock { $0 = name }
    }

    /// Adds a tone played as `segments` in order, repeating.
    public func createTone(_ segments: [Segment], name: String) throws {
        guard !name.isEmpty else { throw CallError.error("a tone needs a name") }
        guard !segments.isEmpty else { throw CallError.error("tone \"\(name)\" has no segments") }
        for (i, s) in segments.enumerated() {
            for (what, value, range) in [("frequency", s.frequencyA, 0...9999), ("frequency", s.frequencyB, 0...9999),
                                         ("amplitude", s.amplitudeA, 0...99), ("amplitude", s.amplitudeB, s.modulation ? 0...100 : 0...99),
                                         ("duration", s.duration, 0...9999)] where !range.contains(value) {
                throw CallError.error("tone \"\(name)\" segment \(i + 1): \(what) \(value) is outside \(range.lowerBound)…\(range.upperBound)")
            }
        }
        guard segments.contains(where: { $0.duration > 0 }) else { throw CallError.error("tone \"\(name)\" lasts no time at all") }
        tones.withLock { $0[name] = segments }
    }

    public func segments(named name: String) -> [Segment]? { tones.withLock { $0[name] } }

    public var names: [String] { tones.withLock { $0.keys.sorted() } }

    /// A plan tone as segments (the engine's cadence: on, off, on, off).
    static func segments(_ spec: ToneSpec) -> [Segment] {
        let c = spec.cadenceMilliseconds
        let on = Segment(frequencyA: spec.frequency1, amplitudeA: -spec.level1, frequencyB: spec.frequency2,
                         amplitudeB: -spec.level2, duration: min(9999, c.0))
        if c.1 == 0 { return [on] }
        var list = [on, .silence(c.1)]
        if c.2 > 0 {
            var second = on
            second.duration = c.2
            list += [second, .silence(c.3)]
        }
        return list
    }
}
