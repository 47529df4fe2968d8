import CSpanDSP
import LinecardDSP

/// How a fax job ended (the reference's `CallFaxSender.Cause`, shared by the receiver).
public enum FaxCause: String, Sendable, CaseIterable, Codable {
    case error = "ERROR"
    case normal = "NORMAL"
    /// `stop` was called.
    case aborted = "ABORTED"
    /// The other side hung up.
    case hangup = "HANGUP"
    case timeout = "TIMEOUT"
    /// The other end never sent fax signals (a person answered, say).
    case notFax = "NOTFAX"
    case unknownOption = "UNKNOWN_OPTION"
    case unknownValue = "UNKNOWN_VALUE"
    case inconsistentOptions = "INCONSISTENT_OPTIONS"
    /// A T.30/T.38 mismatch (not possible on an analog line; kept for the reference's list).
    case standardMismatch = "STANDARDMISMATCH"
    /// Training or signalling failed: bad line, or an incompatible machine.
    case commsFault = "COMMSFAULT"
    /// Too many errors in the pages.
    case pageQuality = "PAGEQUALITY"
    /// A job is running, or none has run.
    case none = "NONE"

    /// spandsp's T.30 completion code as a cause (docs/FAX.md has the table).
    static func from(completion code: Int32) -> FaxCause {
        switch Int(code) {
        case Int(T30_ERR_OK): .normal
        case Int(T30_ERR_CEDTONE), Int(T30_ERR_T0_EXPIRED), Int(T30_ERR_T1_EXPIRED), Int(T30_ERR_RX_NOFAX): .notFax
        case Int(T30_ERR_CALLDROPPED): .hangup
        case Int(T30_ERR_FILEERROR), Int(T30_ERR_NOPAGE), Int(T30_ERR_BADTIFF), Int(T30_ERR_BADPAGE), Int(T30_ERR_BADTAG),
             Int(T30_ERR_BADTIFFHDR), Int(T30_ERR_NOMEM):
            .error
        case Int(T30_ERR_TX_BADPG), Int(T30_ERR_RX_NOEOL): .pageQuality
        // T.30's timers after the first message: the other machine stopped answering.
        case Int(T30_ERR_T3_EXPIRED), Int(T30_ERR_TX_T5EXP), Int(T30_ERR_TX_PHBDEAD), Int(T30_ERR_TX_PHDDEAD),
             Int(T30_ERR_RX_T2EXPDCN), Int(T30_ERR_RX_T2EXPD), Int(T30_ERR_RX_T2EXPFAX), Int(T30_ERR_RX_T2EXPMPS),
             Int(T30_ERR_RX_T2EXPRR), Int(T30_ERR_RX_T2EXP):
            .timeout
        default: .commsFault
        }
    }
}

/// A fax job's state (the reference's `State`).
public enum FaxJobState: String, Sendable, Codable {
    case sending = "SENDING"
    case receiving = "RECEIVING"
    case idle = "IDLE"
    /// The last job failed and none is running.
    case error = "ERROR"
}

/// Details of the fax job in progress or last run (the reference's `FaxDetails`).
public struct FaxDetails: Sendable, Equatable {
    /// The fax's identity: unique among the jobs of every card in this process (1 for the
    /// first), so a log line or a stored report names one fax.
    public var id = 0
    /// The port the fax ran on.
    public var line = 0
    /// Always "T.30" on an analog line.
    public var faxStandard = "T.30"
    public var options: [String: String] = [:]
    /// The options refused (UNKNOWN_OPTION, UNKNOWN_VALUE, INCONSISTENT_OPTIONS).
    public var failedOption: [String: String] = [:]
    /// Pages sent or received so far.
    public var pages = 0
    /// No more pages will be handled (not a sign of success): true once the page known to be
    /// the last has been handled (T.30's end of procedure), or when the job ends.
    public var lastPage = false
    /// What T.30 negotiated: modem, dataRate, ECM, resolution, compression, remoteId. Empty
    /// until negotiated (and when negotiation failed).
    public var negotiated: [String: String] = [:]
    /// The fax error code (spandsp's T.30 completion code, as a decimal string) when the job
    /// ended with an error T.30 reported (ERROR, NOTFAX, TIMEOUT, COMMSFAULT, PAGEQUALITY);
    /// empty otherwise.
    public var rawCause = ""
    /// What the job's ending means, in words: spandsp's text for `rawCause`, or how it ended
    /// ("completed", "stopped", "the call ended").
    public var rawCauseDescription = ""
}

/// The fax options this project defines, in the reference's style: names and string values.
///
/// | name | values | default |
/// | --- | --- | --- |
/// | v17, v29, v27 | YES, NO | YES |
/// | ECM | YES, NO | YES |
/// | MinDataRate, MaxDataRate | 2400, 4800, 7200, 9600, 12000, 14400 | 2400, 14400 |
/// | HighRes | YES, NO | YES |
/// | SubscriberId | up to 20 of digits, '+' and space | "" |
/// | HeaderInfo | up to 50 printable characters | "" |
struct FaxOptions: Equatable {
    var v17 = true, v29 = true, v27 = true
    var ecm = true
    var minimumRate = 2400, maximumRate = 14400
    var highResolution = true
    var subscriberID = ""
    var headerInfo = ""

    static let rates = [2400, 4800, 7200, 9600, 12000, 14400]
    /// The fastest each modem goes.
    static let fastest = (v27: 4800, v29: 9600, v17: 14400)

    /// Reads `options`; a refusal names its cause and the options at fault.
    static func parse(_ options: [String: String]) -> Result<FaxOptions, Refusal> {
        var o = FaxOptions()
        for (name, value) in options.sorted(by: { $0.key < $1.key }) {
            func yesNo() -> Bool? { value == "YES" ? true : value == "NO" ? false : nil }
            func bad() -> Result<FaxOptions, Refusal> { .failure(Refusal(cause: .unknownValue, options: [name: value])) }
            switch name {
            case "v17": guard let v = yesNo() else { return bad() }; o.v17 = v
            case "v29": guard let v = yesNo() else { return bad() }; o.v29 = v
            case "v27": guard let v = yesNo() else { return bad() }; o.v27 = v
            case "ECM": guard let v = yesNo() else { return bad() }; o.ecm = v
            case "HighRes": guard let v = yesNo() else { return bad() }; o.highResolution = v
            case "MinDataRate": guard let r = Int(value), rates.contains(r) else { return bad() }; o.minimumRate = r
            case "MaxDataRate": guard let r = Int(value), rates.contains(r) else { return bad() }; o.maximumRate = r
            case "SubscriberId":
                guard value.count <= 20, value.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "+" || $0 == " ") }) else { return bad() }
                o.subscriberID = value
            case "HeaderInfo":
                guard value.count <= 50, value.allSatisfy({ $0.isASCII && !$0.isNewline && $0.asciiValue! >= 32 }) else { return bad() }
                o.headerInfo = value
            default:
                return .failure(Refusal(cause: .unknownOption, options: [name: value]))
            }
        }
        // Modems that can run between the two rates.
        let usable = o.usableModems
        if o.minimumRate > o.maximumRate || !(usable.v17 || usable.v29 || usable.v27) {
            let involved = ["v17", "v29", "v27", "MinDataRate", "MaxDataRate"]
            return .failure(Refusal(cause: .inconsistentOptions, options: options.filter { involved.contains($0.key) }))
        }
        return .success(o)
    }

    /// The modems allowed whose rates reach into MinDataRate…MaxDataRate (V.27ter 2400-4800,
    /// V.29 7200-9600, V.17 7200-14400).
    var usableModems: (v27: Bool, v29: Bool, v17: Bool) {
        (v27: v27 && minimumRate <= Self.fastest.v27,
         v29: v29 && minimumRate <= Self.fastest.v29 && maximumRate >= 7200,
         v17: v17 && maximumRate >= 7200)
    }

    struct Refusal: Error {
        var cause: FaxCause
        var options: [String: String]
    }

    func apply(to terminal: FaxTerminal) {
        let usable = usableModems
        terminal.setModems(v27: usable.v27, v29: usable.v29, v17: usable.v17)
        terminal.setErrorCorrection(ecm)
        terminal.setHighResolution(highResolution)
        if !subscriberID.isEmpty { terminal.setIdentity(subscriberID) }
        if !headerInfo.isEmpty { terminal.setHeaderInfo(headerInfo) }
    }
}
