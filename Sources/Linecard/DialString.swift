import LinecardEngine

/// A number to dial, checked once where it enters (a program's call, a gateway request, a
/// configuration file) and carried typed to the line. `written` is the number as a person
/// gave it; `digits` is what the line dials.
///
/// The rule: digits, `*` and `#` are dialled; `+`, `-`, spaces, brackets, `.` and
/// `,` may be written for readability and are not dialled. At least one digit, at most
/// `maximumDigits` dialled, at most 40 characters written.
public struct DialString: Sendable, Hashable, CustomStringConvertible {
    public let written: String
    public let digits: String

    public static let maximumDigits = 20
    public static let maximumWritten = 40
    static let dialled: Set<Character> = Set("0123456789*#")
    static let separators: Set<Character> = Set("+-() .,")

    public init(_ written: String) throws(DialStringError) {
        guard !written.isEmpty else { throw DialStringError(number: written, problem: .empty) }
        guard written.count <= Self.maximumWritten else { throw DialStringError(number: written, problem: .tooLong) }
        if let bad = written.first(where: { !Self.dialled.contains($0) && !Self.separators.contains($0) }) {
            throw DialStringError(number: written, problem: .character(bad))
        }
        let digits = written.filter { Self.dialled.contains($0) }
        guard digits.contains(where: \.isNumber) else { throw DialStringError(number: written, problem: .noDigits) }
        guard digits.count <= Self.maximumDigits else { throw DialStringError(number: written, problem: .tooManyDigits) }
        self.written = written
        self.digits = digits
    }

    public var description: String { written }

    /// `number` checked for the channel API, whose refusals are `CallError`s.
    static func checked(_ number: String) throws(CallError) -> DialString {
        do { return try DialString(number) } catch { throw CallError.error(error.description) }
    }

    /// What the engine sends (always fits: `maximumDigits` is below its capacity).
    var digitString: DigitString { DigitString(digits)! }
}

extension DialString: Codable {
    public init(from decoder: any Decoder) throws {
        try self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(written)
    }
}

/// Why a number cannot be dialled.
public struct DialStringError: Error, Equatable, CustomStringConvertible {
    public enum Problem: Equatable, Sendable {
        case empty, tooLong, noDigits, tooManyDigits
        case character(Character)
    }

    public let number: String
    public let problem: Problem

    public var description: String {
        switch problem {
        case .empty: "the number to call is empty"
        case .tooLong: "\"\(number.prefix(20))…\" is longer than \(DialString.maximumWritten) characters"
        case .noDigits: "\"\(number)\" has no digits"
        case .tooManyDigits: "\"\(number)\" has more than \(DialString.maximumDigits) digits to dial"
        case .character(let bad):
            "\"\(number)\" has \"\(bad)\": dial only 0-9, * and # (+, -, spaces, brackets, . and , may be written and are not dialled)"
        }
    }
}
