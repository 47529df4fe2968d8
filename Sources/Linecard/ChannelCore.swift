import LinecardDSP
import LinecardEngine

/// Everything a channel knows, in one value owned by its card (see `CardState`). Events from
/// the engine and calls from the program both change it; waiters look at it after every
/// change. It is split by owner: the port's signalling keeps `line`, the media jobs keep
/// `media`, connections and transfers keep `bridge`; the call's states, causes and details
/// belong to the call layer.
struct ChannelCore: Sendable {
    var state: CallState = .idle
    var cause: CallCause = .normal
    var details = CallDetails()
    var now: Int64 = 0

    var line = LineProgress()
    var media = MediaJobs()
    var bridge = Bridge()
    var jobs = JobReports()

    // Timers of the call itself, whatever carries it.
    var callTimer: Int32?
    var silenceTimer: Int32?

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

    // Waiting.
    var waiters: [Waiter] = []
    var timerGeneration: Int32 = 0
    var firedTimers: Set<Int32> = []
    /// Tasks whose waits on this channel ended, and tasks that began waiting on it, since
    /// the card last looked (`CardState` keeps the account of who is working).
    var resumedTasks: [Int] = []
    var suspendedTasks: [Int] = []

    /// A new timer's identity: its purpose in the low bits, so that a firing is routed by
    /// what the timer is for, and a generation above them, so that a stale one is told apart.
    mutating func newTimerID(for purpose: TimerPurpose) -> Int32 {
        timerGeneration = timerGeneration &+ 1 & 0x07FF_FFFF
        return timerGeneration << 4 | purpose.rawValue
    }

    var isInCall: Bool { state != .idle && state != .waiting }
}

/// What a channel timer is for.
enum TimerPurpose: Int32 {
    /// A program's wait with a timeout.
    case wait
    /// The call layer's: no answer in time, and silence on an answered call.
    case call, silence
    /// The signalling's: the current phase's limit, a dialling pulse, a voice check,
    /// answering-machine classification.
    case phase, pulse, voiceCheck, classify
    /// A recording's silence limit.
    case recordingSilence
    /// A retrieved transfer's reconnection.
    case reconnect

    init?(timer id: Int32) { self.init(rawValue: id & 0xF) }
}

/// How the call progresses on the line: owned by the port's `LineSignalling`.
struct LineProgress: Sendable {
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

    var phase: Phase = .none
    var phaseTimer: Int32?
    // Outgoing call progress.
    var sawRingback = false
    var voiceCheckTimer: Int32?
    var voiceStartedAt: Int64 = 0
    var toneSinceVoice = false
    var pulseSteps: [(HookCommand, Int)] = []
    var pulseTimer: Int32?
    /// An answered outgoing call whose far end is not classified yet.
    var classifying = false
    var firstVoiceAt: Int64?
    var classifyTimer: Int32?
    /// What a telephone dialled (FXS).
    var dialled = ""
    /// What this call dials (a line that dials numbers), checked when the call was placed.
    var dialString: DialString?
    /// The call-control module's name for this call (messages about another call are stale).
    var callReference: Int?
}

/// What the far end sounds like and what this port is playing or recording.
struct MediaJobs: Sendable {
    // Audio activity and beeps, for answering-machine detection and the far-end type.
    var audioActive = false
    /// Line time the far end last fell silent (activity is reported stopped 300 ms late).
    var silentSince: Int64 = 0
    var beepActive = false
    var lastBeep: (endedAt: Int64, milliseconds: Int)?
    /// Bumped at each activity or beep change, so that waiters look again.
    var mediaVersion = 0

    var digitBuffer: [(digit: Character, lineTime: Int64)] = []
    var playingDigits = false
    var digitsDone = false
    var toneSequence: ToneSequence?
    var playback: PlaybackJob?
    var recording: RecordingJob?
}

/// What the program's media objects report: the reference's job states and causes.
struct JobReports: Sendable {
    var dtmfPlayer: (state: CallChannel.DTMFPlayer.State, cause: CallChannel.DTMFPlayer.Cause) = (.idle, .none)
    var dtmfDetector: CallChannel.DTMFDetector.Cause = .none
    var tonePlayer: CallChannel.TonePlayer?
    var files = FileJobStatus()
    var fax = FaxStatus()
}

/// The file player's and recorder's states and causes.
struct FileJobStatus: Sendable {
    var player: (state: CallChannel.FilePlayer.State, cause: CallChannel.FilePlayer.Cause) = (.idle, .none)
    var recorder: (state: CallChannel.FileRecorder.State, cause: CallChannel.FileRecorder.Cause) = (.idle, .none)
    var audioDetected: Bool?
}

/// This call's links to other ports of the card: connections, local calls, transfers.
struct Bridge: Sendable {
    var connectedTo: Int?
    /// The call of `connectedTo` this call is connected to (its `callSerial`).
    var connectedSerial = 0

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
}

/// One party waiting on a channel: polled after every change; returns the work that resumes
/// it once its condition holds.
struct Waiter: Sendable {
    let id: Int
    /// The program's task that waits.
    let task: Int
    let poll: @Sendable (inout ChannelCore) -> (@Sendable () -> Void)?
}
