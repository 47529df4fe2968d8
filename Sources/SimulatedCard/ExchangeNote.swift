import LinecardDSP
import LinecardEngine

/// What the far side of the simulated card experienced: for tests and demos to check what
/// arrived at the far end. The code above the backend never sees these.
public struct ExchangeNote: Sendable, BitwiseCopyable, Equatable {
    public enum Kind: Sendable, BitwiseCopyable, Equatable {
        /// The exchange received a dialled digit from the port (DTMF or pulses).
        case dialled(UInt8)
        /// The exchange routed the dialled number to a far end.
        case routed(FarEndKind)
        case farEndAnswered
        /// The far end heard a DTMF digit from the port.
        case farEndHeard(UInt8)
        case farEndHungUp
        /// The port hung up (as the exchange recognises it).
        case portHungUp
        case hookFlash
        /// A hook-flash transfer completed: the far end that was held now rings `port`
        /// (-1: a number that is not a port; the far end was let go).
        case transferred(toPort: Int32)
        /// The fax machine's T.30 session ended with this completion code (0: success).
        case faxFinished(Int32)
        /// An incoming call's caller gave up.
        case callerGaveUp
        /// The telephone on an FXS port rang (count so far) / went off-hook / on-hook.
        case telephoneRang(Int32)
        case telephoneOffHook, telephoneOnHook
        /// The telephone heard a DTMF digit / a call-progress tone from the port.
        case telephoneHeard(UInt8)
        case telephoneHeardTone(CallProgressTone)
    }

    public var lineTime: Int64
    public var port: Int32
    public var kind: Kind
}

public enum FarEndKind: String, Sendable, BitwiseCopyable, Equatable {
    case person, busy, noAnswer, unobtainable, congestion, answeringMachine, faxMachine, port
}

/// What a B-channel of a simulated ISDN span tells the network's call control, which turns it
/// into Q.931 messages towards the card (the `LinecardISDN` library's simulated network).
public struct NetworkSignal: Sendable, BitwiseCopyable, Equatable {
    public enum Kind: UInt8, Sendable, BitwiseCopyable, Equatable {
        /// The called party rings (ALERTING, with in-band ringback).
        case alerting
        /// The called party answered (CONNECT).
        case answered
        /// The call is over on the network's side with `cause` (DISCONNECT).
        case cleared
        /// A caller offers a call on this B-channel (SETUP): `cause` holds the calling port of
        /// the card, or -1 for a scripted caller, whom `SimulatedCard.offeredCall(port:)` names.
        case offering
    }

    public var port: Int32
    public var kind: Kind
    /// The Q.850 cause of `cleared`.
    public var cause: Int32
}
