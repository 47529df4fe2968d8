import Foundation

/// Our guess at the service's REST paths, in one place (docs/NUMBER-PROVIDER.md lists the
/// same table and where each row comes from). Correct a row here and nothing else changes.
enum RESTMapping {
    struct Request: Equatable {
        var method: String
        /// Relative to the base URL, without a leading slash.
        var path: String
        var query: [(String, String)] = []
        /// A JSON object, or nil for no body.
        var body: [String: JSONValue]?
        /// The reference does not document this path: it is our inference or guess.
        var guessed = false

        static func == (a: Request, b: Request) -> Bool {
            a.method == b.method && a.path == b.path && a.query.map { "\($0.0)=\($0.1)" } == b.query.map { "\($0.0)=\($0.1)" }
                && a.body == b.body && a.guessed == b.guessed
        }
    }

    static func account() -> Request { Request(method: "GET", path: "account") }
    static func addresses() -> Request { Request(method: "GET", path: "addresses", guessed: true) }
    static func newAddress() -> Request { Request(method: "POST", path: "addresses", guessed: true) }
    static func groups(_ type: GroupType) -> Request { Request(method: "GET", path: "groups", query: [("type", type.rawValue)]) }
    static func numbers() -> Request { Request(method: "GET", path: "numbers") }
    static func number(_ e164: String) -> Request { Request(method: "GET", path: "number", query: [("e164", e164)]) }
    static func startRental(_ groupID: String) -> Request {
        Request(method: "POST", path: "numbers", body: ["group_id": .string(groupID)], guessed: true)
    }
    static func endRental(_ e164: String) -> Request { Request(method: "DELETE", path: "number", query: [("e164", e164)], guessed: true) }
    static func setSMSAction(_ e164: String, _ action: SMSAction) -> Request {
        let body: [String: JSONValue] = switch action {
        case .store: ["action": .null, "destination": .null]
        case .forward(let number): ["action": .string("forward"), "destination": .string(number)]
        case .webhook(let url): ["action": .string("webhook"), "destination": .string(url.absoluteString)]
        }
        return Request(method: "PUT", path: "number/sms_action", query: [("e164", e164)], body: body, guessed: true)
    }
}

/// Enough JSON to write request bodies.
enum JSONValue: Equatable, Encodable {
    case string(String)
    case null

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .null: try c.encodeNil()
        }
    }
}
