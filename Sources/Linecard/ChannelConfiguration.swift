import LinecardDSP

/// How a channel recognises what happens on its line. Defaults suit the simulated exchange
/// and most analog lines.
public struct ChannelConfiguration: Sendable {
    /// How an outgoing call on an FXO line is known to be answered.
    public enum AnswerDetection: Sendable, Equatable {
        /// Only by polarity reversal.
        case polarityReversal
        /// Only by ringback stopping and voice beginning.
        case voiceAfterRingback
        /// Whichever comes first.
        case either
    }

    public var answerDetection: AnswerDetection = .either
    /// Seizing an FXO line without dial tone in this time: OUTOFORDER.
    public var dialToneTimeout: Duration = .seconds(5)
    /// Dial by pulses instead of DTMF.
    public var pulseDialling = false
    /// Far end considered gone after this much silence on an answered call (nil: never).
    public var silenceLimit: Duration?
    /// A busy, congestion or dial tone on an answered call means the far end hung up.
    public var clearOnTone = true
    /// An FXO line's incoming call is over when no ring comes for this long.
    public var ringGap: Duration = .seconds(8)
    /// FXS: dialled digits are complete after this pause, on `#`, or at `maximumDialledDigits`.
    public var interdigitTimeout: Duration = .seconds(3)
    public var maximumDialledDigits = 20
    /// Activity (voice) detection threshold, dBm0.
    public var activityThreshold = -38

    public init() {}
}
