import LinecardDSP

/// Up to 32 ASCII characters held inline, so that a command carrying digits is a plain value.
public struct DigitString: Sendable, BitwiseCopyable, Equatable, CustomStringConvertible {
    public static let capacity = 32
    public private(set) var count: UInt8 = 0
    var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// Returns nil when `text` is longer than 32 characters or not ASCII.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count <= Self.capacity, utf8.allSatisfy({ $0 < 128 }) else { return nil }
        count = UInt8(utf8.count)
        withUnsafeMutableBytes(of: &bytes) { raw in
            for (i, b) in utf8.enumerated() { raw[i] = b }
        }
    }

    /// From ASCII bytes (safe in the tick); longer input is cut at the capacity.
    public init(bytes: UnsafePointer<UInt8>, count: Int) {
        let n = min(count, Self.capacity)
        self.count = UInt8(n)
        withUnsafeMutableBytes(of: &self.bytes) { raw in
            var i = 0
            while i < n { raw[i] = bytes[i]; i += 1 }
        }
    }

    /// Calls `body` with the characters (safe in the tick).
    @inline(__always)
    public func withCharacters<R>(_ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        var copy = bytes
        return withUnsafeBytes(of: &copy) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self), Int(count))
        }
    }

    public static func == (a: DigitString, b: DigitString) -> Bool { a.description == b.description }

    public var description: String { withCharacters { String(decoding: UnsafeBufferPointer(start: $0, count: $1), as: UTF8.self) } }
}

/// A tone registered with an engine (see `Engine.registerTone`).
public struct ToneID: Sendable, BitwiseCopyable, Hashable {
    public let slot: Int32
}

/// What the rest of the program asks of the tick, one port at a time.
public struct EngineCommand: Sendable, BitwiseCopyable {
    public enum Operation: Sendable, BitwiseCopyable {
        case hook(HookCommand)
        /// Queue DTMF digits on the port's generator.
        case sendDigits(DigitString)
        case stopDigits
        case configureDigits(level: Int16, twist: Int16, onMilliseconds: Int16, offMilliseconds: Int16)
        /// Play a registered tone for a number of samples (0: until stopped).
        case playTone(ToneID, samples: Int64)
        case stopTone
        case detectDigits(Bool)
        /// Notch out dial tone (350 and 440 Hz) before detecting digits: for a port that
        /// collects digits while dial tone may be on the line. Off by default; it costs about
        /// a third more per sample.
        case filterDialTone(Bool)
        case detectCallProgress(Bool)
        case meterLevels(Bool)
        /// Report `.activityStarted` when received audio stays above `threshold` dBm0 for
        /// `startMilliseconds`, and `.activityStopped` when it stays below for
        /// `stopMilliseconds` (voice or tone versus silence). 0 threshold: off.
        case detectActivity(threshold: Int16, startMilliseconds: Int16, stopMilliseconds: Int16)
        /// Report `.beepStarted` and `.beepEnded` for single-frequency tones (an answering
        /// machine's beep) between 350 and 2100 Hz.
        case detectBeeps(Bool)
        /// Decode caller ID (FSK between rings) and report `.callerID`.
        case detectCallerID(Bool)
        /// Report `.faxTone` for CNG, CED (ANS/ANSam) and the V.21 fax preamble.
        case detectFaxTones(Bool)
        /// Start feeding the line from the port's playback ring.
        case startPlayback
        /// Finish playback once the ring is empty (reported by `playbackFinished`).
        case finishPlayback
        /// Stop playback now and drop what is queued.
        case stopPlayback
        /// Copy received audio into the port's record ring.
        case record(Bool)
        /// Transmit what `port` receives (one direction of a bridge).
        case listen(to: Int32)
        case stopListening
        /// Receive what `port` transmitted in the previous tick instead of the line (a call
        /// between two ports inside the box, such as a local port and the leg that reached
        /// it); -1 goes back to the line.
        case patch(to: Int32)
        /// In virtual time, hold each tick until the port's playback ring has a block: a
        /// program producing the port's audio from what it receives (a fax modem) keeps pace
        /// sample for sample. No effect on a paced clock, where a late block is silence.
        case lockstep(Bool)
        /// Report `.timer(id)` once line time reaches `lineTime` (16 timers per port; a
        /// seventeenth fires at once).
        case setTimer(id: Int32, lineTime: Int64)
        case cancelTimer(id: Int32)
        /// The engine's own, sent by `Engine.open(port:)` and `Engine.close(port:)`.
        case activate, deactivate
    }

    public var port: Int32
    public var operation: Operation

    public init(port: Int, _ operation: Operation) {
        self.port = Int32(port)
        self.operation = operation
    }
}

/// What the tick reports, stamped with line time.
public struct EngineEvent: Sendable, BitwiseCopyable, Equatable {
    public enum Kind: Sendable, BitwiseCopyable, Equatable {
        case line(LineEvent.Kind, value: Int32)
        /// A DTMF digit began; `level` in dBm0.
        case digitStarted(UInt8, level: Int32)
        /// A DTMF digit ended after `samples`.
        case digitEnded(UInt8, samples: Int32)
        case callProgressStarted(CallProgressTone)
        case callProgressEnded
        /// The DTMF generator sent everything queued.
        case digitsSent
        /// A tone with a duration ended (not sent when stopped).
        case toneFinished
        case playbackFinished
        /// A timer set with `.setTimer` reached its line time.
        case timer(id: Int32)
        /// Received audio rose above the activity threshold (see `.detectActivity`); `level`
        /// in dBm0 over the last block.
        case activityStarted(level: Int32)
        case activityStopped
        /// A steady single tone began (see `.detectBeeps`): its frequency in Hz, level in dBm0.
        case beepStarted(frequency: Int32, level: Int32)
        /// The beep ended after `milliseconds`.
        case beepEnded(milliseconds: Int32)
        /// Caller ID arrived: the caller's number ("O": unavailable, "P": private).
        case callerID(DigitString)
        /// A fax machine's tone was recognised (see `.detectFaxTones`).
        case faxTone(FaxTone)
        /// The port's playback ring fell below half full while playing (refill it).
        case playbackNeedsData
        /// The port's record ring rose above half full while recording (drain it).
        case recordNeedsDraining
    }

    /// Samples since the engine started, when the tick noticed.
    public var lineTime: Int64
    public var port: Int32
    public var kind: Kind

    public init(lineTime: Int64, port: Int32, kind: Kind) {
        self.lineTime = lineTime
        self.port = port
        self.kind = kind
    }

    /// Line time in seconds.
    public var seconds: Double { Double(lineTime) / 8000 }
}
