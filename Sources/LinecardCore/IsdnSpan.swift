/// An ISDN span as a card describes it: its B-channels (ports of the card) and where its
/// D-channel's frames pass. Call control over the D-channel is a signalling module's work
/// (the `LinecardISDN` library); the card only moves the frames and the B-channels' audio.
public struct IsdnSpanDescription: Sendable, Equatable {
    /// The kinds of span, each with its usual Q.931 variant.
    public enum Variant: String, Sendable, Equatable, Codable, CaseIterable {
        /// E1 primary rate: 30 B-channels in timeslots 1-15 and 17-31, D in 16; EuroISDN.
        case e1
        /// T1 primary rate: 23 B-channels, D in channel 24; National ISDN 2.
        case t1
        /// Basic rate, point to point: 2 B-channels; EuroISDN.
        case bri
        /// Basic rate, point to multipoint (several terminals on one bus): EuroISDN.
        case briMultipoint = "bri-ptmp"

        /// The B-channels' numbers in the span (what Q.931's channel identification names).
        public var bearerChannels: [Int] {
            switch self {
            case .e1: Array(1...15) + Array(17...31)
            case .t1: Array(1...23)
            case .bri, .briMultipoint: [1, 2]
            }
        }
    }

    /// Where the D-channel's frames are read and written.
    public enum DChannel: Sendable, Equatable {
        /// One end of a `SOCK_SEQPACKET` socket pair: one message is one frame, without FCS.
        case socket(Int32)
        /// A DAHDI channel in HDLC mode (`dchan=` or `hardhdlc=` in system.conf): one read or
        /// write is one frame with its 2 FCS bytes.
        case dahdi(channel: Int)
    }

    /// The span's name, for messages and status: "sim0/e1".
    public var name: String
    public var variant: Variant
    /// The card's port of each B-channel, by its channel number in the span.
    public var bearers: [Int: Int]
    public var dChannel: DChannel

    public init(name: String, variant: Variant, bearers: [Int: Int], dChannel: DChannel) {
        self.name = name
        self.variant = variant
        self.bearers = bearers
        self.dChannel = dChannel
    }
}

/// A card with ISDN spans.
public protocol IsdnCard: CardBackend {
    var isdnSpans: [IsdnSpanDescription] { get }
}
