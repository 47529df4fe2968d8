import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A client of the number-rental service (DTMF.io's API, docs/NUMBER-PROVIDER.md):
/// one async method per documented function, arguments checked before any request, results
/// typed. The token travels in the `Authorization` header only, and no message or
/// description contains it.
public struct NumberProviderClient: Sendable, CustomStringConvertible {
    public static let defaultBaseURL = URL(string: "https://dtmf.io/api/v1/")!

    public let baseURL: URL
    public let timeout: Double
    private let token: String
    private let session: URLSession

    /// - Parameters:
    ///   - token: an active API token of the account.
    ///   - baseURL: where the API lives (a fake on loopback in tests).
    ///   - timeout: seconds to wait for each answer.
    public init(token: String, baseURL: URL = Self.defaultBaseURL, timeout: Double = 30) throws {
        guard !token.isEmpty, !token.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw NumberProviderError.invalidArgument(name: "token", message: "the API token is empty or has spaces")
        }
        guard let scheme = baseURL.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw NumberProviderError.invalidArgument(name: "baseURL", message: "\(baseURL) is not an http(s) URL")
        }
        self.token = token
        // Paths are relative to the base: make sure it ends in a slash.
        self.baseURL = baseURL.absoluteString.hasSuffix("/") ? baseURL : baseURL.appendingPathComponent("")
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        session = URLSession(configuration: configuration)
    }

    public var description: String { "NumberProviderClient(\(baseURL.absoluteString), token: <hidden>)" }

    // MARK: The documented functions

    /// The account; its balance is in satoshis.
    public func account() async throws -> Account { try await send(RESTMapping.account()) }

    /// The account's active bitcoin deposit addresses.
    public func addresses() async throws -> [DepositAddress] { try await send(RESTMapping.addresses()) }

    /// Makes a new deposit address.
    public func newAddress() async throws -> DepositAddress { try await send(RESTMapping.newAddress()) }

    /// The groups numbers can be rented from.
    public func groups(type: GroupType) async throws -> [NumberGroup] { try await send(RESTMapping.groups(type)) }

    /// As `groups(type:)`, with the type as text ("mobile" or "local"), checked first.
    public func groups(type: String) async throws -> [NumberGroup] { try await groups(type: Validation.groupType(type)) }

    /// Every number the account rents.
    public func numbers() async throws -> [RentedNumber] { try await send(RESTMapping.numbers()) }

    /// One rented number.
    public func number(e164: String) async throws -> RentedNumber {
        try Validation.e164(e164)
        return try await send(RESTMapping.number(e164))
    }

    /// Rents a number from the group `groupId` (an id from `groups`).
    public func startRental(groupId: String) async throws -> RentedNumber {
        try Validation.groupID(groupId)
        return try await send(RESTMapping.startRental(groupId))
    }

    /// Ends a rental; true when the service confirmed it.
    public func endRental(e164: String) async throws -> Bool {
        try Validation.e164(e164)
        return try await confirm(RESTMapping.endRental(e164))
    }

    /// What happens to the SMS `e164` receives: `action` nil (store), "forward" (to the
    /// E.164 `destination`) or "webhook" (POST to the http(s) URL `destination`).
    public func setSMSAction(e164: String, action: String?, destination: String?) async throws -> Bool {
        try Validation.e164(e164)
        let parsed = try Validation.smsAction(action, destination: destination)
        return try await confirm(RESTMapping.setSMSAction(e164, parsed))
    }

    // MARK: HTTP

    private func send<T: Decodable>(_ request: RESTMapping.Request) async throws -> T {
        let (data, _) = try await perform(request)
        do {
            return try Self.decoder.decode(T.self, from: data)
        } catch let error as DecodingError {
            throw NumberProviderError.malformedResponse(Self.describe(error))
        } catch {
            throw NumberProviderError.malformedResponse("\(error)")
        }
    }

    /// For functions the reference documents as returning True.
    private func confirm(_ request: RESTMapping.Request) async throws -> Bool {
        let (data, status) = try await perform(request)
        if status == 204 || data.isEmpty { return true }
        guard let value = try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) else {
            throw NumberProviderError.malformedResponse("expected true or an object, got \(Self.excerpt(data))")
        }
        if let flag = value as? Bool { return flag }
        if value is [String: Any] { return true }
        throw NumberProviderError.malformedResponse("expected true or an object, got \(Self.excerpt(data))")
    }

    private func perform(_ spec: RESTMapping.Request) async throws -> (Data, Int) {
        var components = URLComponents(url: baseURL.appendingPathComponent(spec.path), resolvingAgainstBaseURL: false)!
        if !spec.query.isEmpty {
            components.queryItems = spec.query.map { URLQueryItem(name: $0.0, value: $0.1) }
            // URLComponents leaves '+' alone, and a server reads it as a space.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        }
        var request = URLRequest(url: components.url!)
        request.httpMethod = spec.method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let body = spec.body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONEncoder().encode(body)
        }
        let data: Data, response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError where error.code == .timedOut {
            throw NumberProviderError.timeout(seconds: timeout)
        } catch let error as URLError {
            throw NumberProviderError.unreachable(error.localizedDescription)
        } catch {
            throw NumberProviderError.unreachable("\(error)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200..<300: return (data, status)
        case 401, 403: throw NumberProviderError.unauthorized(status: status, message: Self.serviceMessage(data))
        case 404 where spec.guessed, 405 where spec.guessed:
            throw NumberProviderError.guessedPathRefused(method: spec.method, path: spec.path, status: status, message: Self.serviceMessage(data))
        default: throw NumberProviderError.http(status: status, message: Self.serviceMessage(data))
        }
    }

    /// The service's own words from an error body: a JSON `error`, `message` or `detail`,
    /// or the start of the text.
    static func serviceMessage(_ data: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            for key in ["error", "message", "detail"] {
                if let text = object[key] as? String { return text }
            }
        }
        return excerpt(data)
    }

    static func excerpt(_ data: Data) -> String {
        let text = String(decoding: data.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "(empty body)" : text
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String {
            c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let c): return "\(path(c)).\(key.stringValue) is missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "\(path(c)) has the wrong type: \(c.debugDescription)"
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not JSON" : "\(path(c)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// The service writes timestamps without a zone (`2018-01-01T01:01:01.000000`), taken
    /// as UTC; ISO 8601 with a zone is accepted too.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = parseTimestamp(text) { return date }
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\"\(text)\" is not a timestamp"))
        }
        return decoder
    }()

    static func parseTimestamp(_ text: String) -> Date? {
        for format in ["yyyy-MM-dd'T'HH:mm:ss.SSSSSS", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXXXX",
                       "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd'T'HH:mm:ssXXXXX"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
