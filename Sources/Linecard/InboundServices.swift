import Foundation
import Synchronization

/// An inbound service: an application that is handed a call and runs until it returns. The
/// call arrives CALL_INCOMING (the service answers it, or rejects it); if the service returns
/// with the call still up, the card hangs it up.
public typealias InboundServiceHandler = @Sendable (CallChannel) async throws -> Void

/// The inbound services a card knows, by name. Registered in code; started by what
/// `ServiceBinding`s bind them to (an incoming call on an FXO line, a number dialled on an
/// FXS telephone) and by transfers and local calls that name them.
public final class InboundServices: Sendable {
    private let handlers = Mutex<[String: InboundServiceHandler]>([:])
    private let failures = Mutex<[(service: String, error: String)]>([])

    /// Registers `handler` under `name` (letters, digits, '-', '_' and '.', at most 64).
    public func register(_ name: String, _ handler: @escaping InboundServiceHandler) throws {
        guard !name.isEmpty, name.count <= 64,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw CallError.error("\"\(name)\" cannot name a service: use 1 to 64 letters, digits, '-', '_' or '.'")
        }
        try handlers.withLock { table in
            if table[name] != nil { throw CallError.error("a service named \"\(name)\" is already registered") }
            table[name] = handler
        }
    }

    /// The registered names, sorted.
    public var names: [String] { handlers.withLock { $0.keys.sorted() } }

    /// What services threw, oldest first (the call was hung up after each).
    public var errors: [(service: String, error: String)] { failures.withLock { $0 } }

    func handler(_ name: String) throws -> InboundServiceHandler {
        try handlers.withLock { table in
            guard let handler = table[name] else {
                let known = table.keys.sorted()
                throw CallError.error("no inbound service named \"\(name)\" (registered: \(known.isEmpty ? "none" : known.joined(separator: ", ")))")
            }
            return handler
        }
    }

    /// Runs `handler` on `channel` and hangs the call up afterwards if the service left it up.
    func run(_ name: String, _ handler: @escaping InboundServiceHandler, on channel: CallChannel) async {
        do {
            try await handler(channel)
        } catch {
            failures.withLock { $0.append((name, "\(error)")) }
        }
        if channel.state != .idle && channel.state != .waiting { await channel.hangUp() }
        // The service is over: its task no longer keeps line time still.
        channel.core.card.programIsIdle(task: currentTaskKey())
    }
}

/// What starts a service, as the configuration says it.
public enum ServiceBinding: Sendable, Equatable, Codable {
    /// Every incoming call on FXO `port` starts `service`.
    case incomingCalls(port: Int, service: String)
    /// A telephone on FXS `port` dialling `number`, or an ISDN call to `number` (DDI or MSN)
    /// arriving on B-channel `port`, starts `service` (nil: on any such port); a number no
    /// binding names is refused with UNOBTAINABLE.
    case dialledNumber(String, port: Int?, service: String)

    public var service: String {
        switch self {
        case .incomingCalls(_, let service), .dialledNumber(_, _, let service): service
        }
    }

    private enum Key: String, CodingKey, CaseIterable { case service, incomingCallsOnPort, dialled, port }

    /// `{"service": "ivr", "incomingCallsOnPort": 2}` or
    /// `{"service": "voicemail", "dialled": "*98", "port": 4}` (`port` optional).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { Key(rawValue: $0) == nil }
        if !unknown.isEmpty {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "unknown key \"\(unknown[0])\" in a service binding (known: service, incomingCallsOnPort, dialled, port)"))
        }
        let keyed = try decoder.container(keyedBy: Key.self)
        let service = try keyed.decode(String.self, forKey: .service)
        if let port = try keyed.decodeIfPresent(Int.self, forKey: .incomingCallsOnPort) {
            guard !keyed.contains(.dialled), !keyed.contains(.port) else {
                throw DecodingError.dataCorruptedError(forKey: .incomingCallsOnPort, in: keyed,
                    debugDescription: "a binding is either incomingCallsOnPort or dialled (with an optional port), not both")
            }
            self = .incomingCalls(port: port, service: service)
        } else if let number = try keyed.decodeIfPresent(String.self, forKey: .dialled) {
            self = .dialledNumber(number, port: try keyed.decodeIfPresent(Int.self, forKey: .port), service: service)
        } else {
            throw DecodingError.dataCorruptedError(forKey: .service, in: keyed,
                debugDescription: "the binding for \"\(service)\" says neither incomingCallsOnPort nor dialled")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var keyed = encoder.container(keyedBy: Key.self)
        switch self {
        case .incomingCalls(let port, let service):
            try keyed.encode(service, forKey: .service)
            try keyed.encode(port, forKey: .incomingCallsOnPort)
        case .dialledNumber(let number, let port, let service):
            try keyed.encode(service, forKey: .service)
            try keyed.encode(number, forKey: .dialled)
            try keyed.encodeIfPresent(port, forKey: .port)
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}
