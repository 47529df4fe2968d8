/// What kind of line a port is.
public enum PortKind: String, Sendable, Codable, CaseIterable {
    /// Faces an exchange line: it seizes, dials and detects ringing (DAHDI's FXS signalling).
    case fxo
    /// Faces a telephone: it rings the phone and sees its hook (DAHDI's FXO signalling).
    case fxs
    /// An ISDN bearer channel.
    case isdnBearer
    /// An ISDN signalling channel.
    case isdnSignalling
    /// Audio only, no line signalling (a USB codec, a DAHDI clear channel).
    case clear
    /// Inside the box, no line at all: inbound services run on these, reached by local
    /// calls and transfers (`LocalPortsBackend`).
    case local
}

/// A port as a backend enumerates it.
public struct PortDescription: Sendable, Equatable, Codable {
    public var index: Int
    public var name: String
    public var kind: PortKind
    /// The backend's own word for the signalling, e.g. "fxsks".
    public var signalling: String
    public var alarms: [String]

    public init(index: Int, name: String, kind: PortKind, signalling: String, alarms: [String] = []) {
        self.index = index
        self.name = name
        self.kind = kind
        self.signalling = signalling
        self.alarms = alarms
    }
}

/// Hook and ringing control, as a backend applies it to a port.
public enum HookCommand: UInt8, Sendable, BitwiseCopyable, Codable {
    case onHook, offHook, flash
    /// Start or stop ringing a telephone on an FXS port, with the card's cadence.
    case ringStart, ringStop
    /// Line polarity of an FXS port (answer supervision towards the phone).
    case polarityNormal, polarityReversed
}

/// Line signals a backend reports. Audio is not among them: what is heard comes through the
/// samples.
public struct LineEvent: Sendable, Equatable, BitwiseCopyable {
    public enum Kind: UInt8, Sendable, BitwiseCopyable, Codable {
        /// FXO: ringing voltage began / ended.
        case ringBegin, ringEnd
        /// FXS: the telephone went off-hook / on-hook.
        case offHook, onHook
        /// FXS: a hook flash.
        case flash
        /// FXO: line polarity reversed (answer or clear supervision).
        case polarityReversal
        /// FXO: loop current dropped (far-end clear); `value` is its length in milliseconds.
        case loopCurrentDrop
        case alarm, alarmCleared
        /// The device is gone; the port is out of service.
        case removed
        case readOverrun, writeUnderrun
        /// A hook command was refused; `value` is the errno.
        case hookFailed
    }

    public var port: Int32
    public var kind: Kind
    public var value: Int32

    public init(port: Int32, kind: Kind, value: Int32 = 0) {
        self.port = port
        self.kind = kind
        self.value = value
    }
}

/// Who keeps line time: the card's own sample clock, or the host (the engine paces ticks).
public enum CardClock: Sendable {
    /// `readBlocks` waits for the card: line time follows its sample clock.
    case card
    /// The engine paces ticks itself (to the wall clock or as fast as possible).
    case host
}

/// Errors opening, using or closing a card. Each says what was wrong.
public enum CardError: Error, Equatable, CustomStringConvertible {
    case unknownPort(Int, portCount: Int)
    case portAlreadyOpen(Int)
    case portNotOpen(Int)
    case invalidBlockSize(Int)
    case cardClosed(String)
    case engineRunning
    case engineNotRunning
    case queueFull(String)
    case device(String)
    /// A port no signalling module of this build can carry calls on.
    case unsupportedPort(Int, String)

    public var description: String {
        switch self {
        case .unknownPort(let p, let n):
            "no port \(p) on this card: ports are numbered 0 to \(n - 1)"
        case .portAlreadyOpen(let p): "port \(p) is already open"
        case .portNotOpen(let p): "port \(p) is not open"
        case .invalidBlockSize(let b):
            "block size \(b) is not allowed: use a multiple of 8 samples from 8 (1 ms) to 160 (20 ms)"
        case .cardClosed(let name): "card \(name) is closed"
        case .engineRunning: "the engine is running; stop it first"
        case .engineNotRunning: "the engine is not running"
        case .queueFull(let what): "the \(what) queue is full; the tick is not keeping up"
        case .device(let message): message
        case .unsupportedPort(_, let reason): reason
        }
    }
}

/// The one small interface every card implements, in the spirit of FreeTDM's I/O interface.
/// A backend moves blocks of linear 16-bit samples and line signals; it knows nothing of calls.
///
/// `open`, `close` and `shutdown` are called outside the tick. The methods marked "tick" are
/// called only from the engine's tick thread and must not allocate, lock or log.
public protocol CardBackend: AnyObject, Sendable {
    var name: String { get }
    var ports: [PortDescription] { get }
    var clock: CardClock { get }

    func open(port: Int, blockSize: Int) throws
    func close(port: Int)
    /// Releases the card; later opens fail with `CardError.cardClosed`.
    func shutdown()

    /// Tick: fills `blockSize` samples for each open port into `samples + port * blockSize`.
    /// For a card clock, waits until the card has a block.
    func readBlocks(into samples: UnsafeMutablePointer<Int16>, blockSize: Int)
    /// Tick: sends `blockSize` samples for each open port from `samples + port * blockSize`.
    func writeBlocks(from samples: UnsafePointer<Int16>, blockSize: Int)
    /// Tick: applies a hook command; returns 0 or an errno, reported as `hookFailed`.
    func setHook(port: Int, _ command: HookCommand) -> Int32
    /// Tick: the next pending line signal, if any.
    func nextLineEvent() -> LineEvent?
}
