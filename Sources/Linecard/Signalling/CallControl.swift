/// Call control by messages rather than by line signals and tones: a signalling module that
/// carries calls over a separate signalling channel (ISDN's D-channel, through the
/// `LinecardISDN` library) implements this for the B-channel ports it serves, and the card's
/// channels speak to it through `CallControlSignalling`. Every method posts: it returns at
/// once and never waits for the network, and what the network answers (a port going out of
/// service included) comes back through `Card.deliver(_:port:call:)`.
public protocol CallControl: Sendable {
    /// Sends the SETUP of an outgoing call on `port`. `call` names the call in every message
    /// about it, both ways; the channel chooses it, and it is never negative.
    func place(_ setup: OutgoingCallSetup, port: Int, call: Int)
    /// Answers the incoming call `call` on `port` (CONNECT).
    func answer(port: Int, call: Int)
    /// Ends call `call` on `port` from this side with `cause` (DISCONNECT, or RELEASE
    /// COMPLETE where Q.931 asks for it); the module finishes the clearing itself and
    /// delivers nothing more about that call.
    func clear(port: Int, call: Int, cause: Q850Cause)
}

/// What an outgoing call asks the network for.
public struct OutgoingCallSetup: Sendable, Equatable {
    public var number: DialString
    /// The calling number to present (empty: the network's default for the line).
    public var callingNumber: String

    public init(number: DialString, callingNumber: String = "") {
        self.number = number
        self.callingNumber = callingNumber
    }
}

/// An incoming call as the network offered it.
public struct IncomingCallSetup: Sendable, Equatable {
    public var calledNumber: String
    public var callingNumber: String
    /// Whether the caller allowed their number to be shown; a withheld number may still be
    /// sent (to an operator), and is then kept but marked withheld.
    public var callingNumberPresentation: CallerIDStatus

    public init(calledNumber: String, callingNumber: String, callingNumberPresentation: CallerIDStatus) {
        self.calledNumber = calledNumber
        self.callingNumber = callingNumber
        self.callingNumberPresentation = callingNumberPresentation
    }
}

/// What the network told a B-channel's call, as a call-control module delivers it.
public enum CallControlEvent: Sendable, Equatable {
    /// CALL PROCEEDING: the network has the whole number. `inbandAvailable`: progress
    /// indicator 8, the network's tones and announcements are on the B-channel.
    case proceeding(inbandAvailable: Bool)
    /// ALERTING: the far end rings.
    case alerting(inbandAvailable: Bool)
    /// PROGRESS, with the cause the network means to clear with when it gives one (an
    /// in-band busy tone or announcement is playing).
    case progress(inbandAvailable: Bool, cause: Q850Cause?)
    /// CONNECT: the far end answered.
    case answered
    /// The call is over (DISCONNECT or RELEASE from the network, or the module's own
    /// clearing: a timer, a lost D-channel); the module has finished the clearing.
    case cleared(Q850Cause)
    /// A SETUP offered a call on this B-channel; the module has sent PROCEEDING and ALERTING.
    /// The module names incoming calls with negative numbers.
    case incoming(IncomingCallSetup)
    /// The port can carry calls again (nil) or cannot (why: "the D-channel is down").
    case service(outOfService: String?)
}

/// A Q.850 cause value, as ISDN (and SIP's Reason header) carry it.
public struct Q850Cause: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let value: Int

    public init(_ value: Int) { self.value = value }

    public static let unallocatedNumber = Q850Cause(1)
    public static let normalClearing = Q850Cause(16)
    public static let userBusy = Q850Cause(17)
    public static let noUserResponding = Q850Cause(18)
    public static let noAnswer = Q850Cause(19)
    public static let callRejected = Q850Cause(21)
    public static let numberChanged = Q850Cause(22)
    public static let destinationOutOfOrder = Q850Cause(27)
    public static let invalidNumberFormat = Q850Cause(28)
    public static let noCircuitAvailable = Q850Cause(34)
    public static let networkOutOfOrder = Q850Cause(38)
    public static let temporaryFailure = Q850Cause(41)
    public static let switchingEquipmentCongestion = Q850Cause(42)
    public static let requestedChannelNotAvailable = Q850Cause(44)
    public static let incomingCallsBarred = Q850Cause(55)
    public static let recoveryOnTimerExpiry = Q850Cause(102)

    /// The cause's name in Q.850.
    public var text: String { Self.texts[value] ?? "cause value \(value)" }

    /// "cause 17: user busy", as call details and the gateway's status reasons show it.
    public var description: String { "cause \(value): \(text)" }

    /// What the call layer makes of it (the reference's causes).
    public var callCause: CallCause {
        switch value {
        case 16, 31: .normal
        case 17: .busy
        case 18, 19: .noAnswer
        case 1, 3, 28: .unobtainable
        case 22: .changed
        case 21: .rejected
        case 55: .barred
        case 34, 41, 42, 44: .congestion
        case 27, 38: .outOfOrder
        default: .failed
        }
    }

    /// The cause a rejection or hang-up with `cause` sends.
    public init(_ cause: CallCause) {
        switch cause {
        case .busy: self = .userBusy
        case .noAnswer: self = .noAnswer
        case .unobtainable: self = .unallocatedNumber
        case .changed: self = .numberChanged
        case .outOfOrder: self = .destinationOutOfOrder
        case .barred: self = .incomingCallsBarred
        case .rejected: self = .callRejected
        case .noChannels, .congestion: self = .noCircuitAvailable
        case .timeout: self = .recoveryOnTimerExpiry
        case .normal, .error, .failed, .other: self = .normalClearing
        }
    }

    private static let texts: [Int: String] = [
        1: "unallocated (unassigned) number", 2: "no route to specified transit network", 3: "no route to destination",
        6: "channel unacceptable", 16: "normal call clearing", 17: "user busy", 18: "no user responding",
        19: "no answer from user (user alerted)", 20: "subscriber absent", 21: "call rejected", 22: "number changed",
        26: "non-selected user clearing", 27: "destination out of order", 28: "invalid number format (address incomplete)",
        29: "facility rejected", 31: "normal, unspecified", 34: "no circuit/channel available", 38: "network out of order",
        41: "temporary failure", 42: "switching equipment congestion", 43: "access information discarded",
        44: "requested circuit/channel not available", 47: "resource unavailable, unspecified",
        50: "requested facility not subscribed", 55: "incoming calls barred within CUG",
        57: "bearer capability not authorized", 58: "bearer capability not presently available",
        63: "service or option not available, unspecified", 65: "bearer capability not implemented",
        66: "channel type not implemented", 69: "requested facility not implemented",
        79: "service or option not implemented, unspecified", 81: "invalid call reference value",
        82: "identified channel does not exist", 88: "incompatible destination", 95: "invalid message, unspecified",
        96: "mandatory information element is missing", 97: "message type non-existent or not implemented",
        98: "message not compatible with call state or message type non-existent or not implemented",
        99: "information element / parameter non-existent or not implemented", 100: "invalid information element contents",
        101: "message not compatible with call state", 102: "recovery on timer expiry", 111: "protocol error, unspecified",
        127: "interworking, unspecified",
    ]
}
