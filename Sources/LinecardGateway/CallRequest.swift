import Foundation
import Linecard

/// What a call request asks the gateway to play.
public enum CallMessage: Sendable, Equatable, Codable {
    /// Text, spoken by espeak-ng before the call is placed.
    case text(String)
    /// A WAV file on the gateway host.
    case audioFile(String)

    private enum Key: String, CodingKey { case text, audioFile }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .text) { self = .text(text) } else {
            self = .audioFile(try c.decode(String.self, forKey: .audioFile))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch self {
        case .text(let text): try c.encode(text, forKey: .text)
        case .audioFile(let path): try c.encode(path, forKey: .audioFile)
        }
    }
}

/// Where a request stands. `made` and `failed` are final.
public enum RequestStatus: String, Sendable, Codable, CaseIterable {
    /// Waiting for its first attempt (or for a free line).
    case pending
    /// An attempt is on a line now.
    case calling
    /// An attempt failed; another will be made.
    case retry
    case made
    case failed

    public var isFinal: Bool { self == .made || self == .failed }
}

/// A request to call, as accepted from a client.
public struct NewCallRequest: Sendable, Equatable {
    public var info: String
    /// The number as the client gave it (shown back to clients as it came).
    public var phoneNumber: String
    /// The numbers to dial in turn: one, or a call list (call-till-confirm), each checked
    /// when the request was accepted.
    public var numbers: [DialString]
    public var message: CallMessage
    /// Call-till-confirm: the digits someone called must enter.
    public var confirmationCode: String?
    public var selfDelete: Bool
    /// No attempt starts after this time (`firstocc`).
    public var deadline: Date
    /// Things the client should know (ignored parameters), returned in the response.
    public var warnings: [String]

    /// A request to call `number` (or, for a call-till-confirm, the list `numbers`).
    public init(info: String = "", number: DialString, numbers: [DialString]? = nil, message: CallMessage,
                confirmationCode: String? = nil, selfDelete: Bool = false, deadline: Date, warnings: [String] = []) {
        self.init(info: info, phoneNumber: number.written, numbers: numbers ?? [number], message: message,
                  confirmationCode: confirmationCode, selfDelete: selfDelete, deadline: deadline, warnings: warnings)
    }

    /// A request as stored: the client's text for `phoneNumber`, and the numbers to dial.
    init(info: String, phoneNumber: String, numbers: [DialString], message: CallMessage,
         confirmationCode: String?, selfDelete: Bool, deadline: Date, warnings: [String]) {
        self.info = info
        self.phoneNumber = phoneNumber
        self.numbers = numbers
        self.message = message
        self.confirmationCode = confirmationCode
        self.selfDelete = selfDelete
        self.deadline = deadline
        self.warnings = warnings
    }
}

/// One try at one number.
public struct CallAttempt: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        /// Its message is being prepared (speech synthesised, the audio file read). A gateway
        /// that dies now tries the request once more after its restart; dying in the same
        /// preparation twice fails the request, so that a file that kills the gateway cannot do
        /// so at every restart.
        case preparing
        /// On a line now.
        case dialling
        case made
        /// Failed; the request will try again.
        case retry
        case failed
        /// The gateway stopped (or crashed) during this attempt; it is not dialled again.
        case interrupted
    }

    public var number: Int
    public var line: Int
    public var dialled: String
    public var started: Date
    public var ended: Date?
    public var outcome: Outcome
    public var reason: String
    /// The box that made the attempt, on a queue several boxes share.
    public var gateway: String? = nil
}

/// A request as the queue holds it.
public struct CallRecord: Sendable, Equatable {
    public var id: Int64
    public var request: NewCallRequest
    public var created: Date
    public var status: RequestStatus
    public var nextAttempt: Date
    public var reason: String
    public var attempts: [CallAttempt]
}
