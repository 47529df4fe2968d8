import Foundation
import Linecard

/// A request the gateway refuses, with the reason the client is told.
public struct RequestError: Error, CustomStringConvertible, Equatable {
    public let status: Int
    public let message: String
    public var description: String { message }

    static func bad(_ message: String) -> RequestError { RequestError(status: 400, message: message) }
}

/// The simple call interface's wire format (Voicent's `/ocall/*.jsp`): form parameters in,
/// text bodies out, as existing clients parse them.
public struct SimpleCallInterface: Sendable {
    public let configuration: GatewayConfiguration
    /// Where audio files and call lists may be read from.
    public let files: AllowedFiles

    public init(configuration: GatewayConfiguration, files: AllowedFiles) {
        self.configuration = configuration
        self.files = files
    }

    /// Parameters of the full call scheduler that this gateway does not implement.
    static let unsupported = ["startvxml", "starturl", "startapp", "exitvxml", "exiturl", "schedule", "calltime", "sms"]

    // MARK: callreqHandler.jsp

    /// Turns callreqHandler's parameters into a request, or says what is wrong with them.
    public func request(from form: [String: String], now: Date = Date()) async throws -> NewCallRequest {
        let info = form["info"] ?? ""
        guard let phoneNumber = form["phoneno"]?.trimmingCharacters(in: .whitespaces), !phoneNumber.isEmpty else {
            throw RequestError.bad("phoneno is missing: give the number to call")
        }
        let number = try Self.dialString(phoneNumber, parameter: "phoneno")
        let minutes: Double?
        if let text = form["firstocc"], !text.isEmpty {
            guard let given = Double(text) else {
                throw RequestError.bad("firstocc is \"\(text)\": give the minutes from now after which no call starts (0 to 525600)")
            }
            minutes = given
        } else {
            minutes = nil
        }
        let deadline = try self.deadline(firstOccurrenceMinutes: minutes, parameter: "firstocc", now: now)
        let selfDelete = try Self.flag(form["selfdelete"], name: "selfdelete")
        var warnings: [String] = []

        if form["startexec"] != nil || form["cmdline"] != nil {
            return try await tillConfirm(form, info: info, number: number, selfDelete: selfDelete, deadline: deadline)
        }
        let text = form["txt"], audio = form["audiofile"]
        if let given = Self.unsupported.first(where: { form[$0] != nil }), text == nil, audio == nil {
            throw RequestError.bad("\(given) is not supported by this gateway: send txt (text to speak) or audiofile (a WAV file on the gateway)")
        }
        for given in Self.unsupported where form[given] != nil {
            warnings.append("\(given) ignored: this gateway plays txt or audiofile only")
        }
        let message = try await self.message(text: text, audioFile: audio, names: ("txt", "audiofile"))
        return NewCallRequest(info: info, number: number, message: message, selfDelete: selfDelete,
                              deadline: deadline, warnings: warnings)
    }

    /// The time after which no attempt starts, `minutes` from `now` (nil: the configured
    /// default).
    func deadline(firstOccurrenceMinutes minutes: Double?, parameter: String, now: Date = Date()) throws -> Date {
        let minutes = minutes ?? configuration.defaultFirstOccurrence
        guard minutes >= 0, minutes <= 525_600 else {
            throw RequestError.bad("\(parameter) is \(minutes): give the minutes from now after which no call starts (0 to 525600)")
        }
        return now.addingTimeInterval(minutes * 60)
    }

    /// The message of a request: text to speak or a WAV file on the gateway, one of the two.
    /// `names` are the request's names for them, for errors.
    func message(text: String?, audioFile audio: String?, names: (text: String, audio: String)) async throws -> CallMessage {
        switch (text, audio) {
        case (let text?, nil):
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw RequestError.bad("\(names.text) is empty: give the text to speak")
            }
            guard text.count <= configuration.limits.maxTextLength else {
                throw RequestError.bad("\(names.text) has \(text.count) characters; this gateway speaks at most \(configuration.limits.maxTextLength)")
            }
            return .text(text)
        case (nil, let audio?):
            guard !audio.isEmpty else { throw RequestError.bad("\(names.audio) is empty: give the path of a WAV file on the gateway") }
            try await checkFile(audio, parameter: names.audio)
            return .audioFile(audio)
        case (nil, nil):
            throw RequestError.bad("the message is missing: give \(names.text) (text to speak) or \(names.audio) (a WAV file on the gateway)")
        default:
            throw RequestError.bad("give \(names.text) or \(names.audio), not both")
        }
    }

    /// callTillConfirm: the reference makes the gateway run BroadcastByPhone (`startexec`)
    /// with `cmdline`. We never run a program named in a request: we read the call list,
    /// audio file and confirmation code from `cmdline` and do the calling ourselves.
    private func tillConfirm(_ form: [String: String], info: String, number: DialString, selfDelete: Bool,
                             deadline: Date) async throws -> NewCallRequest {
        var warnings: [String] = []
        if let program = form["startexec"] {
            warnings.append("startexec ignored: this gateway never runs a program named in a request (\"\(program)\" was not run); it calls the list itself")
        }
        guard let cmdline = form["cmdline"], !cmdline.isEmpty else {
            throw RequestError.bad("cmdline is missing: callTillConfirm needs \"<call list>\" -confirmcode CODE -wavfile \"<file.wav>\"")
        }
        let words = try Self.words(cmdline)
        var list: String?, code: String?, wav: String?, numbers: [String]?
        var i = 0
        while i < words.count {
            let word = words[i]
            func next() throws -> String {
                guard i + 1 < words.count else { throw RequestError.bad("cmdline: \(word) needs a value") }
                i += 1
                return words[i]
            }
            switch word.lowercased() {
            case "-confirmcode": code = try next()
            case "-wavfile": wav = try next()
            case "-numbers": numbers = try next().split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            case "-startnow", "-cleanstatus": break
            default:
                if word.hasPrefix("-") {
                    warnings.append("cmdline: \(word) ignored")
                } else if list == nil {
                    list = word
                } else {
                    throw RequestError.bad("cmdline: unexpected \"\(word)\"; give one call list")
                }
            }
            i += 1
        }
        let confirmationCode = try Self.confirmationCode(code, parameter: "cmdline: -confirmcode")
        guard let wav, !wav.isEmpty else { throw RequestError.bad("cmdline: -wavfile is missing: give the message's WAV file") }
        try await checkFile(wav, parameter: "-wavfile")
        var people = numbers ?? []
        if numbers == nil {
            guard let list else { throw RequestError.bad("cmdline: no call list: give its path first, or -numbers \"n1 n2\"") }
            let files = self.files
            people = try await BlockingWork.run("reading the call list \(list)", timeout: configuration.limits.fileTimeout) {
                let file = try files.open(list, parameter: "the call list")
                do { return try CallList.read(file) } catch let error as CallList.ListError {
                    throw RequestError.bad(error.message)
                }
            }
        }
        guard !people.isEmpty else { throw RequestError.bad("the call list has no numbers") }
        // A list read from a file is never quoted back: its entries are named by place only.
        let dialled = try checkCallList(people, size: { "the call list has \($0) numbers" }, entry: { "call list entry \($0 + 1)" },
                                        quotingEntries: numbers != nil)
        return NewCallRequest(info: info, number: number, numbers: dialled, message: .audioFile(wav),
                              confirmationCode: confirmationCode, selfDelete: selfDelete, deadline: deadline, warnings: warnings)
    }

    /// The callreqHandler answer: clients read the id between `[ReqId=` and `]`.
    public static func accepted(id: Int64, request: NewCallRequest) -> String {
        var body = "Your call is scheduled for \(Self.longDate(Date(timeIntervalSince1970: Double(id) / 1000))). [ReqId=\(id)]\n"
        for warning in request.warnings { body += "Warning: \(warning)\n" }
        return body
    }

    /// Decodes `name=value&…` as browsers and clients send it: `+` is a space, `%XX` a byte,
    /// and characters that should have been escaped are taken as they are. The bytes of a
    /// name or value are read as UTF-8 when they are UTF-8, and otherwise as Windows-1252, the
    /// code page Windows clients send (and a superset of ISO-8859-1's printable characters).
    public static func decodeForm(_ encoded: some Collection<UInt8>) throws -> [(String, String)] {
        func decode(_ part: ArraySlice<UInt8>) throws -> String {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(part.count)
            var i = part.startIndex
            while i < part.endIndex {
                switch part[i] {
                case UInt8(ascii: "+"):
                    bytes.append(0x20)
                case UInt8(ascii: "%"):
                    guard i + 2 < part.endIndex, let high = hexValue(part[i + 1]), let low = hexValue(part[i + 2]) else {
                        let sample = String(decoding: part.prefix(40), as: UTF8.self)
                        throw RequestError.bad("the parameters have a bad %-escape in \"\(sample)\"")
                    }
                    bytes.append(high << 4 | low)
                    i += 2
                default:
                    bytes.append(part[i])
                }
                i += 1
            }
            return text(bytes)
        }
        return try Array(encoded).split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            return (try decode(parts[0]), parts.count > 1 ? try decode(parts[1]) : "")
        }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// UTF-8 when the bytes are UTF-8; Windows-1252 otherwise.
    static func text(_ bytes: [UInt8]) -> String {
        if let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        return String(bytes: bytes, encoding: .windowsCP1252)
            ?? String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    // MARK: callstatusHandler.jsp

    /// The status body: one caret-separated record of ten fields per finished attempt,
    /// inside brackets; `[]` while nothing has finished. Clients look for `^made^`,
    /// `^failed^` and `^retry^`.
    public static func status(of record: CallRecord, timeZone: TimeZone = .current) -> String {
        var fields: [String] = []
        let created = voicentTime(record.created, timeZone: timeZone)
        let finished = record.attempts.filter { $0.outcome != .dialling && $0.outcome != .preparing }
        for (i, attempt) in finished.enumerated() {
            let last = i == finished.count - 1
            let word: String
            switch attempt.outcome {
            case .made: word = "made"
            case .failed: word = "failed"
            case .retry: word = "retry"
            case .interrupted, .dialling, .preparing: word = last && record.status == .failed ? "failed" : "retry"
            }
            fields.append("0^null^\(word)^\(voicentTime(attempt.started, timeZone: timeZone))^\(created)^\(recordField(attempt.reason))^^^^^")
        }
        if record.status == .failed, finished.isEmpty || finished.last?.outcome == .retry {
            // Failed without (another) attempt: the deadline passed.
            fields.append("0^null^failed^\(voicentTime(record.nextAttempt, timeZone: timeZone))^\(created)^\(recordField(record.reason))^^^^^")
        }
        return fields.isEmpty ? "[]" : "[" + fields.joined() + "\n]"
    }

    public static func noSuchRecord(_ id: String) -> String { "ERROR: no such call record: \(id)" }

    // MARK: Checks shared with the JSON interface

    /// `number` as a number to dial, by `DialString`'s rule (the one the channel API uses);
    /// `parameter` names it in the error.
    public static func dialString(_ number: String, parameter: String) throws -> DialString {
        do { return try DialString(number) } catch { throw RequestError.bad("\(parameter) \(error)") }
    }

    /// A call-till-confirm code: 1 to 16 of 0-9, * and #.
    static func confirmationCode(_ code: String?, parameter: String) throws -> String {
        guard let code, !code.isEmpty, code.count <= 16, code.allSatisfy({ "0123456789*#".contains($0) }) else {
            throw RequestError.bad("\(parameter) needs 1 to 16 digits (0-9, *, #)")
        }
        return code
    }

    /// A call-till-confirm list: within the configured size, every number dialable. `size`
    /// and `entry` say how the request named the list and its entries; without
    /// `quotingEntries` (a list read from a file) a bad entry is named but not quoted.
    func checkCallList(_ numbers: [String], size: (Int) -> String, entry: (Int) -> String, quotingEntries: Bool = true) throws -> [DialString] {
        guard numbers.count <= configuration.limits.maxCallListSize else {
            throw RequestError.bad("\(size(numbers.count)); this gateway takes at most \(configuration.limits.maxCallListSize)")
        }
        return try numbers.enumerated().map { n, number in
            do { return try Self.dialString(number, parameter: entry(n)) } catch where !quotingEntries {
                throw RequestError.bad("\(entry(n)) is not a phone number: use digits, +, -, spaces, brackets, *, # and , (at most \(DialString.maximumDigits) digits)")
            }
        }
    }

    static func flag(_ text: String?, name: String) throws -> Bool {
        switch text?.lowercased() {
        case nil, "", "0", "false", "no": return false
        case "1", "true", "yes": return true
        default: throw RequestError.bad("\(name) is \"\(text!)\": use 1 or 0")
        }
    }

    /// The file-access rule at request time (see `AllowedFiles.check`), off the cooperative pool.
    private func checkFile(_ path: String, parameter: String) async throws {
        let files = self.files
        try await BlockingWork.run("checking \(parameter) \(path)", timeout: configuration.limits.fileTimeout) {
            try files.check(path, parameter: parameter)
        }
    }

    /// Splits a command line into words, honouring double quotes.
    static func words(_ line: String) throws -> [String] {
        var words: [String] = [], current = "", quoted = false, inWord = false
        for c in line {
            if c == "\"" { quoted.toggle(); inWord = true; continue }
            if c == " " && !quoted {
                if inWord { words.append(current); current = ""; inWord = false }
                continue
            }
            current.append(c)
            inWord = true
        }
        guard !quoted else { throw RequestError.bad("cmdline has an unclosed quote") }
        if inWord { words.append(current) }
        return words
    }

    /// `YYYY M D H m`, the month counted from 0, as the reference gateway writes it.
    static func voicentTime(_ date: Date, timeZone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return "\(c.year!) \(c.month! - 1) \(c.day!) \(c.hour!) \(c.minute!)"
    }

    static func longDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE MMM dd HH:mm:ss zzz yyyy"
        return formatter.string(from: date)
    }

    /// A reason inside a caret record: a `^` or line break from a client-supplied path would
    /// split the record, and clients search it for `^made^`.
    static func recordField(_ text: String) -> String {
        String(text.map { $0 == "^" || $0.isNewline ? " " : $0 })
    }
}
