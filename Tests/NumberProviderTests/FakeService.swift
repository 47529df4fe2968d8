import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A stand-in for the number-rental service on loopback: it records every request and
/// answers with whatever the test set for that method and path.
final class FakeService: Sendable {
    struct Recorded: Sendable, Equatable {
        let method: String
        let path: String
        let query: String
        let authorization: String?
        let contentType: String?
        let body: String
    }

    struct Reply: Sendable {
        var status = 200
        var body = "{}"
        var delay: Duration = .zero
    }

    private let replies = Mutex<[String: Reply]>([:])
    private let log = Mutex<[Recorded]>([])
    private let task = Mutex<Task<Void, any Error>?>(nil)
    private let portValue = Atomic<Int>(0)
    var port: Int { portValue.load(ordering: .acquiring) }

    var requests: [Recorded] { log.withLock { $0 } }
    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/api/v1/")! }

    func reply(_ method: String, _ path: String, _ reply: Reply) { replies.withLock { $0["\(method) \(path)"] = reply } }
    func reply(_ method: String, _ path: String, status: Int = 200, json: String) {
        reply(method, path, Reply(status: status, body: json))
    }

    func start() async throws {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            responder: Responder(service: self),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0); continuation.finish() },
            logger: { var l = Logger(label: "fake-service"); l.logLevel = .critical; return l }())
        task.withLock { $0 = Task { try await app.runService(gracefulShutdownSignals: []) } }
        for await port in ports { portValue.store(port, ordering: .releasing) }
    }

    func stop() { task.withLock { $0?.cancel() } }

    fileprivate func handle(_ request: Request) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let recorded = Recorded(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "",
                                authorization: request.headers[.authorization], contentType: request.headers[.contentType],
                                body: String(buffer: body))
        log.withLock { $0.append(recorded) }
        let reply = replies.withLock { $0["\(recorded.method) \(recorded.path)"] } ?? Reply(status: 404, body: #"{"error": "no such endpoint"}"#)
        if reply.delay > .zero { try await Task.sleep(for: reply.delay) }
        return Response(status: .init(code: reply.status), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: reply.body)))
    }

    private struct Responder: HTTPResponder {
        typealias Context = BasicRequestContext
        let service: FakeService
        func respond(to request: Request, context: Context) async throws -> Response { try await service.handle(request) }
    }
}
