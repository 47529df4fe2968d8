/// The state of a call on a channel (the reference's `UASCallChannel.State`).
public enum CallState: String, Sendable, CaseIterable, Codable {
    /// Waiting for an incoming call.
    case waiting = "WAITING"
    /// An incoming call was detected.
    case callIncoming = "CALL_INCOMING"
    /// An incoming call is ringing.
    case ringIncoming = "RING_INCOMING"
    /// An incoming call is being answered.
    case answering = "ANSWERING"
    /// The call is answered (connected).
    case answered = "ANSWERED"
    /// An outbound call is being placed.
    case callOutgoing = "CALL_OUTGOING"
    /// An outbound call is ringing.
    case ringOutgoing = "RING_OUTGOING"
    case holding = "HOLDING"
    case onHold = "ON_HOLD"
    case transferring = "TRANSFERRING"
    case transferred = "TRANSFERRED"
    /// A transferred call is being retrieved.
    case reconnecting = "RECONNECTING"
    case error = "ERROR"
    /// No call: the line is idle, assumed after a hang-up.
    case idle = "IDLE"
}

/// Why a call ended (the reference's `UASCallChannel.Cause`). NORMAL while a call is not idle.
public enum CallCause: String, Sendable, CaseIterable, Codable {
    /// Timed out waiting for a call event (e.g. no dial tone, no progress at all).
    case timeout = "TIMEOUT"
    case error = "ERROR"
    case normal = "NORMAL"
    case busy = "BUSY"
    /// The destination rang but did not answer in time.
    case noAnswer = "NOANSWER"
    case unobtainable = "UNOBTAINABLE"
    case changed = "CHANGED"
    /// The line is out of service (no dial tone, alarm, device removed).
    case outOfOrder = "OUTOFORDER"
    case barred = "BARRED"
    case rejected = "REJECTED"
    case noChannels = "NOCHANNELS"
    case congestion = "CONGESTION"
    /// See `CallDetails.rawCause`.
    case failed = "FAILED"
    case other = "OTHER"
}

/// Why a transfer ended as it did (the reference's `UASCallChannel.TransferCause`), read with
/// `transferCause()`.
public enum TransferCause: String, Sendable, CaseIterable, Codable {
    /// No transfer yet, or one still under way.
    case none = "NONE"
    /// Transferred.
    case normal = "NORMAL"
    /// Not accomplished within the timeout.
    case timeout = "TIMEOUT"
    /// The call being transferred hung up first.
    case hangup = "HANGUP"
    /// The target refused the call (busy, rejected, unobtainable, congestion).
    case targetReject = "TARGETREJECT"
    /// The target hung up before the transfer completed.
    case targetHangup = "TARGETHANGUP"
    /// Anything else (no free port for the leg, the leg's line out of order).
    case fail = "FAIL"
}

/// Caller ID of an incoming call.
public enum CallerIDStatus: String, Sendable, Codable {
    /// None arrived (yet): the network sends it after the first ring.
    case none = "NONE"
    case received = "RECEIVED"
    /// The network said the number is not available (out of area).
    case unavailable = "UNAVAILABLE"
    /// The caller withheld the number.
    case withheld = "WITHHELD"
}

/// What is at the far end, as far as the channel could tell.
public enum FarEndType: String, Sendable, Codable {
    case live = "LIVE"
    case answerMachine = "ANSWER_MACHINE"
    case faxMachine = "FAX_MACHINE"
    case unknown = "UNKNOWN"
}

/// Details of the current or last call.
public struct CallDetails: Sendable, Equatable {
    public var farEndType: FarEndType = .unknown
    /// What ended the call, in the line's own words (e.g. "busy tone", "loop current drop").
    public var rawCause: String = ""
    /// The Q.850 cause the network ended the call with (ISDN), or nil.
    public var q850Cause: Q850Cause?
    public var callingNumber: String = ""
    /// Whether caller ID came with an incoming call on an FXO line.
    public var callerIDStatus: CallerIDStatus = .none
    public var calledNumber: String = ""
    /// The port of the channel this one is connected to.
    public var connectedPort: Int?
    /// Line time (samples) when the call was answered, and when it ended.
    public var answeredAt: Int64?
    public var endedAt: Int64?
}

/// The two errors of the reference API.
public enum CallError: Error, Equatable, CustomStringConvertible {
    /// The call is IDLE (hung up).
    case hangup(String)
    /// The call is in the wrong state for the request, or the request is invalid.
    case error(String)

    public var description: String {
        switch self {
        case .hangup(let what): "Hangup: \(what)"
        case .error(let what): "Error: \(what)"
        }
    }

    /// What happened, without the exception's name.
    public var message: String {
        switch self {
        case .hangup(let what), .error(let what): what
        }
    }
}
