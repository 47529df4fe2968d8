import LinecardDSP
import LinecardEngine

/// How one port's line carries calls, beside the port's I/O: FreeTDM's signalling modules
/// (its analog and libpri modules over one I/O interface). A signalling owns seizing,
/// dialling, answering, rejecting, releasing and flashing, and turns the line's signals,
/// tones and its own timers into call progress; the call layer (`CallChannel`) keeps the
/// states, causes, waiters and media jobs, and never asks what kind of port it runs on.
///
/// `Card` chooses one per port when it builds the channels. Every method runs under the
/// card's state lock with the channel's state (`c`); `c.line` is the signalling's own.
protocol LineSignalling: Sendable {
    /// The line in words, for errors: "an FXO line".
    var name: String { get }

    /// What the line can do, asked where the call layer would otherwise ask the port's kind.
    var capabilities: SignallingCapabilities { get }

    /// Refuses a call this line cannot place at all, before anything happens.
    func checkCanCall(_ number: String, port: Int) throws

    /// Places the outgoing call the call layer has begun (CALL_OUTGOING, details set, and
    /// `c.line.dialString` when `capabilities.dialsNumbers`).
    func placeCall(_ channel: CallChannel, _ c: inout ChannelCore)

    /// Answers the incoming call (the state is ANSWERING; the call layer enters ANSWERED next).
    func answer(_ channel: CallChannel, _ c: inout ChannelCore)

    /// Refuses the incoming call with `cause`: the call ends here, the line as it must.
    func reject(_ channel: CallChannel, _ c: inout ChannelCore, cause: CallCause)

    /// Takes the line down at the end of a call this side ends (the call layer finishes it).
    func release(_ channel: CallChannel, _ c: inout ChannelCore)

    /// Starts handing the answered call on by hook flash (`capabilities.flashTransfers`).
    func flash(_ channel: CallChannel, _ c: inout ChannelCore) throws

    /// A line signal (hook, ring, polarity, loop current) on this port.
    func lineSignal(_ signal: LineEvent.Kind, _ channel: CallChannel, _ c: inout ChannelCore)

    /// A call-progress tone heard on the line.
    func heard(_ tone: CallProgressTone, _ channel: CallChannel, _ c: inout ChannelCore)

    /// One of the signalling's own timers (`TimerPurpose.phase`, `.pulse`, `.voiceCheck`,
    /// `.classify`) fired.
    func timerFired(_ id: Int32, _ purpose: TimerPurpose, _ channel: CallChannel, _ c: inout ChannelCore)

    /// A DTMF digit; true when the signalling took it (a telephone dialling a number).
    func collect(_ digit: Character, _ channel: CallChannel, _ c: inout ChannelCore) -> Bool

    /// The digits the signalling asked for have been sent.
    func digitsSent(_ channel: CallChannel, _ c: inout ChannelCore)

    /// The far end's audio started or stopped.
    func activityChanged(started: Bool, _ channel: CallChannel, _ c: inout ChannelCore)

    /// A message from the network, on a line whose calls are controlled by messages, about
    /// the call `call` (nil: about the port itself).
    func callControl(_ event: CallControlEvent, call: Int?, _ channel: CallChannel, _ c: inout ChannelCore)
}

/// What a line can do, for the checks the call layer and the card make before a call.
struct SignallingCapabilities: Sendable {
    /// Calls can be placed to a number on it (an exchange line dials; a telephone rings).
    var callsNumbers = false
    /// The number of an outgoing call is dialled, so it must be a `DialString`.
    var dialsNumbers = false
    /// Incoming calls arrive from a network, and a service can be bound to them.
    var takesIncomingCalls = false
    /// Caller ID arrives after the first ring: a service should wait for it.
    var sendsCallerIDAfterRing = false
    /// A call on it comes with the number its caller dialled (a telephone's digits on an FXS
    /// port, the called number of an ISDN SETUP: DDI or MSN), to which services can be bound.
    var bringsDialledNumbers = false
    /// An answered call can be handed on by hook flash (`flash`).
    var flashTransfers = false
    /// A call on it has a calling and an answering side (a fax terminal takes its part from
    /// it); a clear channel has neither.
    var knowsWhoCalled = true
}

extension LineSignalling {
    func checkCanCall(_ number: String, port: Int) throws {}
    func flash(_ channel: CallChannel, _ c: inout ChannelCore) throws {
        throw CallError.error("port \(channel.port) is \(name): it has no hook flash")
    }
    func lineSignal(_ signal: LineEvent.Kind, _ channel: CallChannel, _ c: inout ChannelCore) {}
    func heard(_ tone: CallProgressTone, _ channel: CallChannel, _ c: inout ChannelCore) {}
    func timerFired(_ id: Int32, _ purpose: TimerPurpose, _ channel: CallChannel, _ c: inout ChannelCore) {}
    func collect(_ digit: Character, _ channel: CallChannel, _ c: inout ChannelCore) -> Bool { false }
    func digitsSent(_ channel: CallChannel, _ c: inout ChannelCore) {}
    func activityChanged(started: Bool, _ channel: CallChannel, _ c: inout ChannelCore) {}
    func callControl(_ event: CallControlEvent, call: Int?, _ channel: CallChannel, _ c: inout ChannelCore) {}
}

/// The signalling for a port of `kind`, or an error for a kind no module serves. A B-channel
/// is served by the card's call-control module (ISDN), when the card was given one.
func signalling(for port: PortDescription, callControl: (any CallControl)?) throws -> any LineSignalling {
    switch port.kind {
    case .fxo: return LoopStartFXO()
    case .fxs: return LoopStartFXS()
    case .local: return LocalPortSignalling()
    case .clear: return ClearChannelSignalling()
    case .isdnBearer:
        guard let callControl else {
            throw CardError.unsupportedPort(port.index, "port \(port.index) (\(port.name)) is an ISDN B-channel, and the card was opened without ISDN call control: open it through LinecardISDN (IsdnStack), configure the span's B-channels as clear channels, or leave the port out")
        }
        return CallControlSignalling(control: callControl)
    case .isdnSignalling:
        throw CardError.unsupportedPort(port.index, "port \(port.index) (\(port.name)) is an ISDN D-channel: it carries signalling, not audio; LinecardISDN opens it for its span")
    }
}
