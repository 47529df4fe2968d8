import LinecardDSP
import LinecardEngine

/// Everything a channel knows, guarded by the channel's lock. Events from the engine and
/// calls from the program both change it; waiters look at it after every change.
struct ChannelCore: Sendable {
    enum Phase: Equatable {
        case none
        // FXO outgoing
        case seizing, dialling, progress
        // FXO incoming
        case incomingRinging
        /// Rejected on an analog line: let the rings run out.
        case ignoringRings
        // FXS
        case ringingTelephone, collecting
        case answered
        /// Answered, and handing the call on by hook flash: the exchange's dial tone is ours.
        case flashTransfer
    }

    var state: CallState = .idle
    var cause: CallCause = .normal
    var details = CallDetails()
    var phase: Phase = .none
    var now: Int64 = 0

    // Outgoing call progress.
    var sawRingback = false
    var voiceCheckTimer: Int32?
    var voiceStartedAt: Int64 = 0
    var toneSinceVoice = false
    var pulseSteps: [(HookCommand, Int)] = []
    var pulseTimer: Int32?

    // Timers owned by the state machine.
    var phaseTimer: Int32?
    var callTimer: Int32?
    var silenceTimer: Int32?
    // What the far end sounds like: audio activity and beeps, for answering-machine
    // detection and the far-end type.
    var audioActive = false
    /// Line time the far end last fell silent (activity is reported stopped 300 ms late).
    var silentSince: Int64 = 0
    var beepActive = false
    var lastBeep: (endedAt: Int64, milliseconds: Int)?
    /// Bumped at each activity or beep change, so that waiters look again.
    var mediaVersion = 0
    /// An answered outgoing call whose far end is not classified yet.
    var classifying = false
    var firstVoiceAt: Int64?
    var classifyTimer: Int32?

    // Incoming / FXS collection.
    var dialled = ""

    // Media.
    var digitBuffer: [(digit: Character, lineTime: Int64)] = []
    var playingDigits = false
    var digitsDone = false
    var connectedTo: Int?
    var toneSequence: ToneSequence?
    var playback: PlaybackJob?
    var recording: RecordingJob?
    /// Why the line cannot take calls now (alarm, device removed), or nil.
    var outOfService: String?
    /// The card was shut down: nothing more will happen on this channel.
    var cardClosed = false
    /// This side placed the call (a fax terminal then calls, with CNG, rather than answers).
    var placedHere = false

    /// Counts this channel's calls: a notice to a peer names the call it comes from, and the
    /// peer checks it against the call it is linked to, so a late notice cannot end the next
    /// call between the same two ports.
    var callSerial = 0
    /// The call of `connectedTo` this call is connected to (its `callSerial`).
    var connectedSerial = 0

    // Calls inside the box and transfers.
    /// The port at the other end of a local call (this side patched to it).
    var localPeer: Int?
    /// The peer's call (its `callSerial`).
    var localPeerSerial = 0
    /// How this side of a local call ended, for the peer: the cause it should see.
    var localEndCause: CallCause = .normal
    /// As a transfer's leg: the port whose transfer this call serves, told of every change.
    var legOwner: Int?
    var lastReportedToOwner: CallState?
    /// As a leg: which of the owner's transfers it serves (`transferSerial` there).
    var legSerial = 0
    /// As a leg: the call placed for that transfer (its `callSerial`), nil until it begins.
    /// Only that call is reported: the port's previous call may still report its end after
    /// the next transfer has taken the port.
    var legCallSerial: Int?
    /// As the transferred call: the leg's port, and its state and cause as last reported.
    var transferLeg: Int?
    /// Counts this call's transfers, so that a report from an earlier transfer's leg on the
    /// same port (delivered asynchronously, after the next transfer began) is not taken for
    /// the current one's.
    var transferSerial = 0
    var legState: CallState = .idle
    var legCause: CallCause = .normal
    var transferCause: TransferCause = .none
    var ringbackPlaying = false
    var reconnectTimer: Int32?

    // Waiting.
    var waiters: [Waiter] = []
    var nextTimerID: Int32 = 1
    var firedTimers: Set<Int32> = []
    var pendingHold: ClockHold?
    var holdGeneration = 0

    mutating func newTimerID() -> Int32 {
        nextTimerID += 1
        return nextTimerID
    }

    var isInCall: Bool { state != .idle && state != .waiting }
}

/// One party waiting on a channel: polled after every change; returns the work that resumes
/// it once its condition holds.
struct Waiter: Sendable {
    let id: Int
    let poll: @Sendable (inout ChannelCore) -> (@Sendable () -> Void)?
}
