import Foundation
import Linecard
import LinecardCards
import LinecardCore
import LinecardDSP

/// What was wrong with a configuration file.
public struct ConfigurationError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The gateway's configuration: a JSON file (docs/GATEWAY.md lists every key). Every key is
/// optional; an unknown key is an error, so that a typo does not pass silently.
public struct GatewayConfiguration: Sendable, Equatable {
    /// The card: kind (simulated, dahdi or alsa), and its ports, channels or devices,
    /// country, clock and block size; the `linecard` tool's `--card` reads the same type.
    public typealias Card = CardSpecification

    public struct Limits: Sendable, Equatable, Codable {
        public var maxRequestBytes = 65_536
        public var maxTextLength = 2_000
        public var maxCallListSize = 200
        /// The longest audio file a request may play, in seconds.
        public var maxAudioSeconds = 600.0
        /// Seconds a file read (an audio file, a call list) or a speech synthesis may take.
        public var fileTimeoutSeconds = 30.0
        /// Connections served at once; up to `reserveConnections` more are told 503 (except
        /// `/health`, which they are served), and beyond that none is accepted until one ends.
        public var maxConnections = 256
        /// Seconds a client has to send a complete request head, from connecting or from the
        /// previous response: an idle or slow connection is closed after this.
        public var headerTimeoutSeconds = 10.0
        /// Seconds a client has to send a request's body once its head has arrived.
        public var bodyTimeoutSeconds = 30.0
        public init() {}

        var fileTimeout: Duration { .milliseconds(Int(fileTimeoutSeconds * 1000)) }
        var maxAudioDuration: Duration { .milliseconds(Int(maxAudioSeconds * 1000)) }
        /// Connections beyond `maxConnections` accepted only to be told 503 (or served /health);
        /// fewer when the descriptor limit is low.
        static let reserveConnections = 32
    }

    public struct Speech: Sendable, Equatable, Codable {
        public var voice = "en-us"
        public var wordsPerMinute = 160
        public init() {}
    }

    public var address = "127.0.0.1"
    public var port = 8155
    public var dataDirectory = "gateway-data"
    public var card = Card()
    /// FXO ports that place calls; nil means every FXO port.
    public var lines: [Int]?
    public var retry = RetryPolicy()
    /// Minutes after a request within which attempts may start, when `firstocc` is absent.
    public var defaultFirstOccurrence = 60.0
    /// Seconds a call may ring before it counts as no answer.
    public var ringTimeout = 60.0
    /// Seconds to wait for the confirmation code after the message (call-till-confirm).
    public var confirmationTimeout = 10.0
    /// Seconds calls in progress get to finish on SIGTERM or SIGINT.
    public var gracePeriod = 30.0
    /// Clients from these networks (CIDR) are served without a token.
    public var allowedNetworks = ["127.0.0.0/8", "::1/128"]
    /// A client with `Authorization: Bearer <token>` is served from anywhere.
    public var token: String?
    public var limits = Limits()
    public var speech = Speech()
    /// Folders audio files and call lists may be read from besides the files folder
    /// (`DATA/files`), which is always allowed.
    public var allowedFileFolders: [String]?
    /// Host names (besides the listen address, IP literals and `localhost`) that the JSON
    /// interface answers to: its guard against DNS rebinding.
    public var hostNames: [String] = []
    /// Origins (`https://app.example.com`) whose browser pages may call the JSON interface;
    /// other pages' cross-origin requests are refused.
    public var allowedOrigins: [String] = []
    /// The SMS webhook of the number-rental service; nil: no webhook route.
    public var smsWebhook: SMSWebhookConfiguration?
    /// Where the call queue is kept: SQLite in the data folder, or PostgreSQL shared by boxes.
    public var queue = QueueConfiguration()
    /// This box's name among the boxes sharing a queue: it owns the calls it claims.
    public var gatewayId = GatewayConfiguration.hostName()

    public init() {}

    /// Reads `path`; a missing key keeps its default.
    public static func load(_ path: String) throws -> GatewayConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(message: "cannot read the configuration file \(path)")
        }
        do {
            return try parse(data)
        } catch let error as ConfigurationError {
            throw ConfigurationError(message: "\(path): \(error.message)")
        }
    }

    public static func parse(_ data: Data) throws -> GatewayConfiguration {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw ConfigurationError(message: "not valid JSON (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else { throw ConfigurationError(message: "the top level must be a JSON object") }
        var c = GatewayConfiguration()
        var reader = Reader(object: root, path: "")
        c.address = try reader.string("address", default: c.address)
        c.port = try reader.int("port", default: c.port, range: 0...65_535)
        c.dataDirectory = try reader.string("dataDirectory", default: c.dataDirectory)
        if var card = try reader.object("card") {
            c.card.kind = .init(rawValue: try card.string("kind", default: c.card.kind.rawValue, oneOf: CardSpecification.Kind.allCases.map(\.rawValue)))!
            c.card.fxoPorts = try card.int("fxoPorts", default: c.card.fxoPorts, range: 1...64)
            c.card.fxsPorts = try card.int("fxsPorts", default: c.card.fxsPorts, range: 0...64)
            c.card.country = .init(rawValue: try card.string("country", default: c.card.country.rawValue, oneOf: TonePlan.Country.allCases.map(\.rawValue)))!
            c.card.clock = .init(rawValue: try card.string("clock", default: c.card.clock.rawValue, oneOf: CardSpecification.Clock.allCases.map(\.rawValue)))!
            c.card.blockSize = try card.int("blockSize", default: c.card.blockSize, range: 8...160)
            c.card.channels = try card.intArray("channels")
            c.card.devices = try card.stringArray("devices") ?? []
            if let isdn = try card.optionalString("isdn") {
                guard let variant = IsdnSpanDescription.Variant(rawValue: isdn) else {
                    throw ConfigurationError(message: "card.isdn is \"\(isdn)\"; use one of \(IsdnSpanDescription.Variant.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                c.card.isdn = variant
            }
            try card.finish()
        }
        if let lines = try reader.intArray("lines") { c.lines = lines }
        if var retry = try reader.object("retry") {
            c.retry.attempts = try retry.int("attempts", default: c.retry.attempts, range: 1...100)
            c.retry.interval = try retry.double("interval", default: c.retry.interval, range: 0...86_400)
            c.retry.confirmRounds = try retry.int("confirmRounds", default: c.retry.confirmRounds, range: 0...10_000)
            try retry.finish()
        }
        c.defaultFirstOccurrence = try reader.double("defaultFirstOccurrence", default: c.defaultFirstOccurrence, range: 0...525_600)
        c.ringTimeout = try reader.double("ringTimeout", default: c.ringTimeout, range: 5...600)
        c.confirmationTimeout = try reader.double("confirmationTimeout", default: c.confirmationTimeout, range: 1...300)
        c.gracePeriod = try reader.double("gracePeriod", default: c.gracePeriod, range: 0...3600)
        if let networks = try reader.stringArray("allowedNetworks") { c.allowedNetworks = networks }
        c.token = try reader.optionalString("token")
        if var limits = try reader.object("limits") {
            c.limits.maxRequestBytes = try limits.int("maxRequestBytes", default: c.limits.maxRequestBytes, range: 1024...10_485_760)
            c.limits.maxTextLength = try limits.int("maxTextLength", default: c.limits.maxTextLength, range: 1...100_000)
            c.limits.maxCallListSize = try limits.int("maxCallListSize", default: c.limits.maxCallListSize, range: 1...10_000)
            c.limits.maxAudioSeconds = try limits.double("maxAudioSeconds", default: c.limits.maxAudioSeconds, range: 1...3600)
            c.limits.fileTimeoutSeconds = try limits.double("fileTimeoutSeconds", default: c.limits.fileTimeoutSeconds, range: 0.1...600)
            c.limits.maxConnections = try limits.int("maxConnections", default: c.limits.maxConnections, range: 1...100_000)
            c.limits.headerTimeoutSeconds = try limits.double("headerTimeoutSeconds", default: c.limits.headerTimeoutSeconds, range: 0.1...3600)
            c.limits.bodyTimeoutSeconds = try limits.double("bodyTimeoutSeconds", default: c.limits.bodyTimeoutSeconds, range: 0.1...3600)
            try limits.finish()
        }
        if var speech = try reader.object("speech") {
            c.speech.voice = try speech.string("voice", default: c.speech.voice)
            c.speech.wordsPerMinute = try speech.int("wordsPerMinute", default: c.speech.wordsPerMinute, range: 80...450)
            try speech.finish()
        }
        if let folders = try reader.stringArray("allowedFileFolders") { c.allowedFileFolders = folders }
        c.hostNames = try reader.stringArray("hostNames") ?? []
        c.allowedOrigins = try reader.stringArray("allowedOrigins") ?? []
        if var hook = try reader.object("smsWebhook") {
            guard let secret = try hook.optionalString("secret") else {
                throw ConfigurationError(message: "smsWebhook.secret is missing")
            }
            var w = SMSWebhookConfiguration(secret: secret)
            let action = try hook.string("action", default: "store", oneOf: SMSWebhookConfiguration.Action.allCases.map(\.rawValue))
            w.action = SMSWebhookConfiguration.Action(rawValue: action)!
            if let number = try hook.optionalString("callNumber") {
                do { w.callNumber = try DialString(number) } catch { throw ConfigurationError(message: "smsWebhook.callNumber \(error)") }
            }
            w.speech = try hook.string("speech", default: w.speech)
            if let url = try hook.optionalString("forwardURL") {
                guard let parsed = URL(string: url) else { throw ConfigurationError(message: "smsWebhook.forwardURL is not a URL") }
                w.forwardURL = parsed
            }
            try hook.finish()
            c.smsWebhook = w
        }
        if var queue = try reader.object("queue") {
            c.queue.kind = .init(rawValue: try queue.string("kind", default: c.queue.kind.rawValue, oneOf: QueueConfiguration.Kind.allCases.map(\.rawValue)))!
            c.queue.url = try queue.optionalString("url")
            c.queue.passwordFile = try queue.optionalString("passwordFile")
            c.queue.leaseSeconds = try queue.double("leaseSeconds", default: c.queue.leaseSeconds, range: 1...3600)
            c.queue.timeoutSeconds = try queue.double("timeoutSeconds", default: c.queue.timeoutSeconds, range: 0.5...600)
            try queue.finish()
        }
        c.gatewayId = try reader.string("gatewayId", default: c.gatewayId)
        try reader.finish()
        try c.validate()
        return c
    }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "linecard" }
        let text = String(cString: name)
        return text.isEmpty ? "linecard" : text
    }

    public func validate() throws {
        do { try card.validate() } catch { throw ConfigurationError(message: "card.\(error.field ?? "kind"): \(error.message)") }
        if card.kind != .simulated, lines != nil {
            throw ConfigurationError(message: "lines: on \(card.kind) the lines are the card's own (choose them with card.\(card.kind == .dahdi ? "channels" : "devices"))")
        }
        if let lines, let isdn = card.isdn {
            let count = isdn.bearerChannels.count
            for line in lines where line < 0 || line >= count {
                throw ConfigurationError(message: "lines: port \(line) is not a B-channel of the simulated \(isdn.rawValue) span (they are 0 to \(count - 1))")
            }
        } else if let lines {
            for line in lines where line < 0 || line >= card.fxoPorts {
                throw ConfigurationError(message: "lines: port \(line) is not an FXO port (FXO ports are 0 to \(card.fxoPorts - 1))")
            }
        }
        if card.isdn != nil, card.kind != .simulated {
            throw ConfigurationError(message: "card.isdn: a simulated span is for card.kind simulated; DAHDI spans are read from the driver")
        }
        for network in allowedNetworks where NetworkRange(network) == nil {
            throw ConfigurationError(message: "allowedNetworks: \"\(network)\" is not an address or a CIDR network like 192.168.1.0/24")
        }
        try smsWebhook?.validate()
        for origin in allowedOrigins where URL(string: origin)?.scheme == nil || URL(string: origin)?.host == nil {
            throw ConfigurationError(message: "allowedOrigins: \"\(origin)\" is not an origin like https://app.example.com")
        }
        switch queue.kind {
        case .sqlite:
            if queue.url != nil || queue.passwordFile != nil {
                throw ConfigurationError(message: "queue.url and queue.passwordFile are for a postgres queue (queue.kind is sqlite)")
            }
        case .postgres:
            _ = try queue.address()
        }
        guard !gatewayId.isEmpty, gatewayId.count <= 64, gatewayId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw ConfigurationError(message: "gatewayId \"\(gatewayId)\": use 1 to 64 letters, digits, '-', '_' or '.'")
        }
        if let token, token.count < 16 {
            throw ConfigurationError(message: "token: use at least 16 characters (this one has \(token.count))")
        }
    }

    /// The simulated card's FXO ports that place calls (on hardware the gateway takes the
    /// opened card's FXO and clear ports).
    public var callingLines: [Int] { lines ?? Array(0..<(card.isdn?.bearerChannels.count ?? card.fxoPorts)) }
}

/// Reads one JSON object's keys, each checked for type and range, and notices unknown keys.
private struct Reader {
    let object: [String: Any]
    let path: String
    var used: Set<String> = []

    init(object: [String: Any], path: String) {
        self.object = object
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func value(_ key: String) -> Any? {
        used.insert(key)
        if let v = object[key], !(v is NSNull) { return v }
        return nil
    }

    mutating func string(_ key: String, default value: String, oneOf choices: [String]? = nil) throws -> String {
        guard let v = self.value(key) else { return value }
        guard let s = v as? String else { throw ConfigurationError(message: "\(name(key)) must be a string") }
        if let choices, !choices.contains(s) {
            throw ConfigurationError(message: "\(name(key)) is \"\(s)\"; use one of \(choices.joined(separator: ", "))")
        }
        return s
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let v = self.value(key) else { return nil }
        guard let s = v as? String else { throw ConfigurationError(message: "\(name(key)) must be a string") }
        return s
    }

    mutating func double(_ key: String, default value: Double, range: ClosedRange<Double>) throws -> Double {
        guard let v = self.value(key) else { return value }
        guard let n = v as? NSNumber, type(of: v) != Bool.self else { throw ConfigurationError(message: "\(name(key)) must be a number") }
        let d = n.doubleValue
        guard range.contains(d) else {
            throw ConfigurationError(message: "\(name(key)) is \(d); it must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return d
    }

    mutating func int(_ key: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        let d = try double(key, default: Double(value), range: Double(range.lowerBound)...Double(range.upperBound))
        guard d == d.rounded() else { throw ConfigurationError(message: "\(name(key)) must be a whole number, not \(d)") }
        return Int(d)
    }

    mutating func intArray(_ key: String) throws -> [Int]? {
        guard let v = self.value(key) else { return nil }
        guard let a = v as? [NSNumber] else { throw ConfigurationError(message: "\(name(key)) must be a list of numbers") }
        return a.map(\.intValue)
    }

    mutating func stringArray(_ key: String) throws -> [String]? {
        guard let v = self.value(key) else { return nil }
        guard let a = v as? [String] else { throw ConfigurationError(message: "\(name(key)) must be a list of strings") }
        return a
    }

    mutating func object(_ key: String) throws -> Reader? {
        guard let v = self.value(key) else { return nil }
        guard let o = v as? [String: Any] else { throw ConfigurationError(message: "\(name(key)) must be an object") }
        return Reader(object: o, path: name(key))
    }

    func finish() throws {
        if let unknown = object.keys.sorted().first(where: { !used.contains($0) }) {
            throw ConfigurationError(message: "unknown key \"\(name(unknown))\"")
        }
    }
}
