import Foundation
import Hummingbird
import Linecard
import NIOCore

/// Each request's context: Hummingbird's, plus the peer address for the access policy.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peer: String?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress?.ipAddress
    }
}

/// Serves clients from the allowed networks, and anyone with the token.
struct AccessPolicy: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let networks: [NetworkRange]
    let token: String?
    let metrics: GatewayMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The SMS webhook is called by the rental service from the internet; its secret
        // guards it instead.
        if request.uri.path.hasPrefix("/sms/webhook") { return try await next(request, context) }
        if let peer = context.peer, networks.contains(where: { $0.contains(peer) }) {
            return try await next(request, context)
        }
        if let token, let given = request.headers[.authorization], given == "Bearer \(token)" {
            return try await next(request, context)
        }
        metrics.requestRejected()
        let address = context.peer ?? "unknown"
        let why = token == nil
            ? "this gateway serves clients on its allowed networks only, and your address \(address) is not on them: add its network to allowedNetworks in the gateway's configuration (for example \"192.168.1.0/24\")"
            : "this gateway serves clients on its allowed networks, or with Authorization: Bearer <token>; your address \(address) is not on them: send the token, or add its network to allowedNetworks"
        // A refused client's connection is closed: it cannot hold the gateway's descriptors.
        var response = Response.text("ERROR: \(why)\n", status: .forbidden)
        response.headers[.connection] = "close"
        return response
    }
}

/// A known path asked with a method it does not take gets 405 and the methods it does take.
struct MethodCheck: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let routes: [(pattern: [Substring], methods: [HTTPRequest.Method])]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let parts = request.uri.path.split(separator: "/")
        guard let route = routes.first(where: { Self.matches($0.pattern, parts) }), !route.methods.contains(request.method) else {
            return try await next(request, context)
        }
        let allowed = route.methods.map(\.rawValue).joined(separator: ", ")
        var response = Response.text("ERROR: \(request.method.rawValue) is not allowed on \(request.uri.path); use \(allowed)\n",
                                     status: .methodNotAllowed)
        response.headers[.allow] = allowed
        return response
    }

    private static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        pattern.count == parts.count && zip(pattern, parts).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
    }
}

/// A shared queue's lost database, met by any route: 503 with what is wrong, in the
/// interface's own form (the simple call interface's `ERROR:` text, or JSON).
struct QueueAvailability: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as QueueUnavailable {
            if request.uri.path.hasPrefix("/ocall/") { return .text("ERROR: \(error.message)\n", status: .serviceUnavailable) }
            return .jsonError(error.message, status: .serviceUnavailable)
        }
    }
}

/// The JSON interface is for programs, not for web pages a browser on the gateway's host
/// happens to show: it takes only `application/json` bodies (a form or text/plain body is
/// what a cross-site page can send without asking), answers only to host names it knows (a
/// DNS-rebinding page reaches it under a foreign name), and refuses cross-origin browser
/// requests unless the origin is configured. The simple call interface keeps taking what its
/// existing clients send.
struct JSONInterfacePolicy: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let address: String
    let hostNames: Set<String>
    let origins: Set<String>

    init(configuration: GatewayConfiguration) {
        address = configuration.address.lowercased()
        hostNames = Set(configuration.hostNames.map { $0.lowercased() })
        origins = Set(configuration.allowedOrigins.map { $0.lowercased() })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        let host = request.head.authority ?? ""
        guard knows(host: host) else {
            return .jsonError("the JSON interface does not answer to the host name \"\(host)\": use the gateway's address, or add the name to hostNames in its configuration", status: .forbidden)
        }
        let origin = request.headers[.origin]?.lowercased()
        if let origin, !origins.contains(origin), !Self.sameOrigin(origin, host: host) {
            return .jsonError("cross-origin requests from \(origin) are refused: add it to allowedOrigins in the gateway's configuration to allow them", status: .forbidden)
        }
        if request.method == .options, let origin {
            var response = Response(status: .noContent)
            allow(origin, in: &response)
            return response
        }
        if request.method == .post || request.method == .put || request.method == .patch {
            let type = request.headers[.contentType]?.lowercased() ?? ""
            guard type.hasPrefix("application/json") else {
                return .jsonError("send the body as application/json\(type.isEmpty ? "" : ", not \(type)")", status: .unsupportedMediaType)
            }
        }
        var response = try await next(request, context)
        if let origin { allow(origin, in: &response) }
        return response
    }

    private func allow(_ origin: String, in response: inout Response) {
        response.headers[.accessControlAllowOrigin] = origin
        response.headers[.accessControlAllowMethods] = "GET, POST, DELETE"
        response.headers[.accessControlAllowHeaders] = "Content-Type, Authorization"
        response.headers[.vary] = "Origin"
    }

    /// An IP literal, `localhost`, the listen address or a configured name; the port is not
    /// looked at.
    private func knows(host authority: String) -> Bool {
        var host = authority.lowercased()
        if host.hasPrefix("[") {
            guard let end = host.firstIndex(of: "]") else { return false }
            host = String(host[host.index(after: host.startIndex)..<end])
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        if host.isEmpty { return false }
        if host == "localhost" || host == address || hostNames.contains(host) { return true }
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    private static func sameOrigin(_ origin: String, host: String) -> Bool {
        origin == "http://\(host.lowercased())"
    }
}

extension Response {
    static func text(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func jsonError(_ message: String, status: HTTPResponse.Status) -> Response {
        json(["error": message], status: status)
    }
}

/// The HTTP routes: the simple call interface under /ocall, the JSON interface under
/// /api/v1, /health and /metrics.
struct GatewayRoutes: Sendable {
    let gateway: Gateway

    /// Every path and the methods it takes, for 405 answers (`{x}` is a parameter).
    static let methods: [(pattern: [Substring], methods: [HTTPRequest.Method])] = [
        ("ocall/callreqHandler.jsp", [.get, .post]), ("ocall/callstatusHandler.jsp", [.get, .post]),
        ("ocall/callremoveHandler.jsp", [.get, .post]), ("api/v1/calls", [.get, .post]),
        ("api/v1/calls/{id}", [.get, .delete]), ("api/v1/lines", [.get]), ("api/v1/gateways", [.get]), ("api/v1/sms", [.get]),
        ("health", [.get]), ("metrics", [.get]), ("sms/webhook", [.post]), ("sms/webhook/{secret}", [.post]),
    ].map { ($0.0.split(separator: "/"), $0.1) }

    func install(on router: Router<GatewayRequestContext>) {
        for path in ["/ocall/callreqHandler.jsp", "/ocall/callstatusHandler.jsp", "/ocall/callremoveHandler.jsp"] {
            for method in [HTTPRequest.Method.get, .post] {
                router.on(RouterPath(path), method: method) { request, context in
                    try await self.simple(path, request, context)
                }
            }
        }
        router.post("/api/v1/calls") { request, context in try await self.createCall(request, context) }
        router.get("/api/v1/calls") { request, _ in try await self.listCalls(request) }
        router.get("/api/v1/calls/{id}") { _, context in try await self.getCall(context) }
        router.delete("/api/v1/calls/{id}") { _, context in try await self.cancelCall(context) }
        router.get("/api/v1/lines") { _, _ in Response.json(self.gateway.lines()) }
        router.get("/api/v1/gateways") { _, _ in Response.json(try await self.gateway.boxes()) }
        router.get("/health") { _, _ in try await self.health() }
        if gateway.configuration.smsWebhook != nil {
            router.post("/sms/webhook") { request, _ in
                try await self.smsWebhook(request, secret: request.headers.first { $0.name.canonicalName == "x-webhook-secret" }?.value)
            }
            router.post("/sms/webhook/{secret}") { request, context in
                try await self.smsWebhook(request, secret: context.parameters.get("secret"))
            }
            router.get("/api/v1/sms") { _, _ in Response.json(try await self.gateway.inbox.list()) }
        }
        router.get("/metrics") { _, _ in
            let text = try await self.gateway.metricsText()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }

    // MARK: The simple call interface

    private func simple(_ path: String, _ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let form: [String: String]
        do { form = try await Self.form(request, limit: gateway.configuration.limits.maxRequestBytes) } catch let error as RequestError {
            gateway.metrics.requestRejected()
            var response = Response.text("ERROR: \(error.message)\n", status: .init(code: error.status))
            // The rest of a body that is too large or broken is not worth reading.
            response.headers[.connection] = "close"
            return response
        }
        switch path {
        case "/ocall/callreqHandler.jsp":
            do {
                let (id, accepted) = try await gateway.submit(form)
                return .text(SimpleCallInterface.accepted(id: id, request: accepted))
            } catch let error as RequestError {
                gateway.metrics.requestRejected()
                return .text("ERROR: \(error.message)\n", status: .init(code: error.status))
            }
        case "/ocall/callstatusHandler.jsp":
            guard let text = form["reqid"], !text.isEmpty else { return .text("ERROR: reqid is missing\n", status: .badRequest) }
            guard let id = Int64(text), let record = try await gateway.queue.record(id) else {
                return .text(SimpleCallInterface.noSuchRecord(text) + "\n")
            }
            return .text(SimpleCallInterface.status(of: record) + "\n")
        default:
            guard let text = form["reqid"], !text.isEmpty else { return .text("ERROR: reqid is missing\n", status: .badRequest) }
            guard let id = Int64(text), try await gateway.remove(id) else {
                return .text(SimpleCallInterface.noSuchRecord(text) + "\n")
            }
            return .text("[removed]\n")
        }
    }

    /// Form parameters from the query string and, for a POST, the form-encoded body; the
    /// first value of a repeated name counts.
    static func form(_ request: Request, limit: Int) async throws -> [String: String] {
        var form: [String: String] = [:]
        func add(_ encoded: some Collection<UInt8>) throws {
            for (name, value) in try SimpleCallInterface.decodeForm(encoded) where form[name] == nil { form[name] = value }
        }
        if let query = request.uri.query, !query.isEmpty { try add(query.utf8) }
        if request.method == .post {
            let body = request.body
            let buffer: ByteBuffer
            do { buffer = try await body.collect(upTo: limit) } catch is NIOTooManyBytesError {
                throw RequestError(status: 413, message: "the request is larger than \(limit) bytes")
            } catch {
                throw RequestError.bad("the request body cannot be read: \(error)")
            }
            let type = request.headers[.contentType]?.lowercased() ?? ""
            // Clients end the body with a line break at times; it is not part of the last value.
            let bytes = Array(buffer.readableBytesView)
            let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
            if let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) {
                let trimmed = bytes[first...last]
                guard type.isEmpty || type.hasPrefix("application/x-www-form-urlencoded") else {
                    throw RequestError(status: 415, message: "send the parameters form-encoded (application/x-www-form-urlencoded), not \(type)")
                }
                try add(trimmed)
            }
        }
        return form
    }

    // MARK: The JSON interface

    struct CallBody: Decodable {
        var number: String
        var text: String?
        var audioFile: String?
        var numbers: [String]?
        var confirmationCode: String?
        var selfDelete: Bool?
        var firstOccurrenceMinutes: Double?
        var info: String?
    }

    private func createCall(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let body = request.body
        let limit = gateway.configuration.limits.maxRequestBytes
        let buffer: ByteBuffer
        do { buffer = try await body.collect(upTo: limit) } catch {
            var response = error is NIOTooManyBytesError
                ? Response.jsonError("the request is larger than \(limit) bytes", status: .contentTooLarge)
                : Response.jsonError("the request body cannot be read: \(error)", status: .badRequest)
            response.headers[.connection] = "close"
            return response
        }
        let call: CallBody
        do { call = try JSONDecoder().decode(CallBody.self, from: Data(buffer: buffer)) } catch {
            gateway.metrics.requestRejected()
            return .jsonError("the body is not a call: \(Self.describe(error))", status: .badRequest)
        }
        do {
            // Each field is checked by the rule the simple interface uses for its own.
            let interface = gateway.interface
            var request = NewCallRequest(
                info: call.info ?? "json call",
                number: try SimpleCallInterface.dialString(call.number, parameter: "number"),
                message: try await interface.message(text: call.text, audioFile: call.audioFile, names: ("text", "audioFile")),
                selfDelete: call.selfDelete ?? false,
                deadline: try interface.deadline(firstOccurrenceMinutes: call.firstOccurrenceMinutes, parameter: "firstOccurrenceMinutes"))
            if call.numbers != nil || call.confirmationCode != nil {
                guard let numbers = call.numbers, !numbers.isEmpty, let code = call.confirmationCode else {
                    throw RequestError.bad("a call-till-confirm needs numbers (a list) and confirmationCode together")
                }
                request.confirmationCode = try SimpleCallInterface.confirmationCode(code, parameter: "confirmationCode")
                request.numbers = try interface.checkCallList(numbers, size: { "numbers has \($0) entries" }, entry: { "numbers[\($0)]" })
            }
            let id = try await gateway.submit(request)
            guard let record = try await gateway.queue.record(id) else { return .jsonError("not found", status: .notFound) }
            return .json(CallView(record), status: .created)
        } catch let error as RequestError {
            gateway.metrics.requestRejected()
            return .jsonError(error.message, status: .init(code: error.status))
        }
    }

    private func listCalls(_ request: Request) async throws -> Response {
        var status: RequestStatus?
        if let text = request.uri.queryParameters.get("status") {
            guard let s = RequestStatus(rawValue: text) else {
                return .jsonError("status must be one of \(RequestStatus.allCases.map(\.rawValue).joined(separator: ", "))", status: .badRequest)
            }
            status = s
        }
        let given = request.uri.queryParameters.get("limit")
        guard let limit = given.map({ Int($0) }) ?? 100, (1...1000).contains(limit) else {
            return .jsonError("limit must be a whole number from 1 to 1000, not \"\(given ?? "")\"", status: .badRequest)
        }
        return .json(try await gateway.queue.list(status: status, limit: limit).map(CallView.init))
    }

    private func getCall(_ context: GatewayRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            return .jsonError("the call id must be a number", status: .badRequest)
        }
        guard let record = try await gateway.queue.record(id) else { return .jsonError("no call \(id)", status: .notFound) }
        return .json(CallView(record))
    }

    private func cancelCall(_ context: GatewayRequestContext) async throws -> Response {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            return .jsonError("the call id must be a number", status: .badRequest)
        }
        guard try await gateway.remove(id) else { return .jsonError("no call \(id)", status: .notFound) }
        return Response(status: .noContent)
    }

    private func health() async throws -> Response {
        let lines = gateway.lines()
        struct Health: Encodable {
            let status: String; let lines: Int; let linesInService: Int; let queue: [String: Int]
            let gatewayId: String; let database: String?
        }
        let inService = lines.filter { $0.state != CallState.error.rawValue }.count
        // A box whose shared database is lost takes no request: it says so, with 503, so that a
        // balancer sends clients elsewhere; its calls in progress go on.
        var counts: [RequestStatus: Int] = [:]
        var lost = gateway.shared?.unavailable
        if lost == nil {
            do { counts = try await gateway.queue.counts() } catch let error as QueueUnavailable { lost = error.message }
        }
        let health = Health(status: lost != nil ? "database unreachable" : inService > 0 ? "ok" : "degraded", lines: lines.count,
                            linesInService: inService, queue: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                            gatewayId: gateway.configuration.gatewayId, database: lost)
        return .json(health, status: lost != nil ? .serviceUnavailable : .ok)
    }

    // MARK: The SMS webhook

    private func smsWebhook(_ request: Request, secret: String?) async throws -> Response {
        guard let hook = gateway.configuration.smsWebhook, hook.accepts(secret) else {
            gateway.metrics.requestRejected()
            return .jsonError("wrong or missing webhook secret", status: .forbidden)
        }
        guard let buffer = try? await request.body.collect(upTo: 16_384) else {
            return .jsonError("the notification is larger than 16384 bytes", status: .contentTooLarge)
        }
        do {
            let sms = try SMSWebhookConfiguration.parse(Data(buffer: buffer))
            let outcome = try await gateway.receive(sms, hook: hook)
            return .json(["id": String(sms.id), "outcome": outcome])
        } catch let error as RequestError {
            gateway.metrics.requestRejected()
            return .jsonError(error.message, status: .init(code: error.status))
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "\(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            "\(c.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type"
        case DecodingError.dataCorrupted: "it is not valid JSON"
        default: "\(error)"
        }
    }
}

/// A call request as the JSON interface shows it.
struct CallView: Encodable {
    let id: Int64
    let info: String
    let number: String
    let numbers: [String]
    let message: CallMessage
    let confirmationCode: String?
    let selfDelete: Bool
    let created: Date
    let deadline: Date
    let status: String
    let reason: String
    let nextAttempt: Date?
    let attempts: [CallAttempt]
    let warnings: [String]

    init(_ r: CallRecord) {
        id = r.id
        info = r.request.info
        number = r.request.phoneNumber
        numbers = r.request.numbers.map(\.written)
        message = r.request.message
        confirmationCode = r.request.confirmationCode
        selfDelete = r.request.selfDelete
        created = r.created
        deadline = r.request.deadline
        status = r.status.rawValue
        reason = r.reason
        nextAttempt = r.status == .pending || r.status == .retry ? r.nextAttempt : nil
        attempts = r.attempts
        warnings = r.request.warnings
    }
}

/// A box sharing the call queue, as its last heartbeat left it (`/api/v1/gateways`).
public struct GatewayView: Sendable, Encodable, Equatable {
    public let id: String
    public let started: Date
    public let lastHeartbeat: Date
    public let secondsSinceHeartbeat: Double
    public let lines: Int
    public let freeLines: Int
    /// Whether its heartbeat is within a lease: a box past it is presumed dead.
    public let alive: Bool
    /// Calls it has on its lines now, by the queue.
    public let calls: Int
}

/// A line as the JSON interface shows it.
struct LineView: Encodable {
    let line: Int
    let name: String
    let state: String
    let request: Int64?
    /// On an ISDN B-channel: its span, and whether the span's D-channel is up.
    let span: String?
    let dChannelUp: Bool?
}
