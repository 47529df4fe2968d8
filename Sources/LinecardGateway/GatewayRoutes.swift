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
        let why = token == nil
            ? "this gateway serves clients on its allowed networks only (allowedNetworks in its configuration)"
            : "this gateway serves clients on its allowed networks, or with Authorization: Bearer <token>"
        return .text("ERROR: \(why)\n", status: .forbidden)
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
            return .text("ERROR: \(error.message)\n", status: .init(code: error.status))
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
        func add(_ encoded: String) throws {
            for (name, value) in try Self.decodeForm(encoded) where form[name] == nil { form[name] = value }
        }
        if let query = request.uri.query, !query.isEmpty { try add(query) }
        if request.method == .post {
            let body = request.body
            let buffer: ByteBuffer
            do { buffer = try await body.collect(upTo: limit) } catch {
                throw RequestError(status: 413, message: "the request is larger than \(limit) bytes")
            }
            let text = String(buffer: buffer)
            let type = request.headers[.contentType]?.lowercased() ?? ""
            if !text.isEmpty {
                guard type.isEmpty || type.hasPrefix("application/x-www-form-urlencoded") else {
                    throw RequestError(status: 415, message: "send the parameters form-encoded (application/x-www-form-urlencoded), not \(type)")
                }
                guard String(validating: buffer.readableBytesView, as: UTF8.self) != nil else {
                    throw RequestError.bad("the body is not UTF-8 text")
                }
                try add(text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        return form
    }

    /// Decodes `name=value&…` as browsers and clients send it: `+` is a space, `%XX` a
    /// byte of UTF-8. Characters that should have been encoded are taken as they are.
    static func decodeForm(_ text: String) throws -> [(String, String)] {
        func decode(_ part: Substring) throws -> String {
            let spaced = part.replacingOccurrences(of: "+", with: " ")
            guard spaced.contains("%") else { return spaced }
            guard let decoded = spaced.removingPercentEncoding else {
                throw RequestError.bad("the parameters have a bad %-escape in \"\(part.prefix(40))\"")
            }
            return decoded
        }
        return try text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (try decode(parts[0]), parts.count > 1 ? try decode(parts[1]) : "")
        }
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
        guard let buffer = try? await body.collect(upTo: limit) else {
            return .jsonError("the request is larger than \(limit) bytes", status: .contentTooLarge)
        }
        let call: CallBody
        do { call = try JSONDecoder().decode(CallBody.self, from: Data(buffer: buffer)) } catch {
            gateway.metrics.requestRejected()
            return .jsonError("the body is not a call: \(Self.describe(error))", status: .badRequest)
        }
        var form = ["phoneno": call.number, "info": call.info ?? "json call"]
        if let text = call.text { form["txt"] = text }
        if let audio = call.audioFile { form["audiofile"] = audio }
        if let minutes = call.firstOccurrenceMinutes { form["firstocc"] = String(minutes) }
        if call.selfDelete == true { form["selfdelete"] = "1" }
        do {
            var extra: (numbers: [String], code: String)?
            if call.numbers != nil || call.confirmationCode != nil {
                guard let numbers = call.numbers, !numbers.isEmpty, let code = call.confirmationCode else {
                    throw RequestError.bad("a call-till-confirm needs numbers (a list) and confirmationCode together")
                }
                guard call.audioFile != nil || call.text != nil else { throw RequestError.bad("give text or audioFile") }
                extra = (numbers, code)
            }
            let (id, _) = try await gateway.submit(form, tillConfirm: extra)
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
        let limit = request.uri.queryParameters.get("limit").flatMap(Int.init) ?? 100
        guard (1...1000).contains(limit) else { return .jsonError("limit must be from 1 to 1000", status: .badRequest) }
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
        let counts = try await gateway.queue.counts()
        let lines = gateway.lines()
        struct Health: Encodable { let status: String; let lines: Int; let linesInService: Int; let queue: [String: Int] }
        let inService = lines.filter { $0.state != CallState.error.rawValue }.count
        return .json(Health(status: inService > 0 ? "ok" : "degraded", lines: lines.count, linesInService: inService,
                            queue: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })))
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
        numbers = r.request.numbers
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

/// A line as the JSON interface shows it.
struct LineView: Encodable {
    let line: Int
    let name: String
    let state: String
    let request: Int64?
}
