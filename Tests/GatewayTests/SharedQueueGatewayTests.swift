import Foundation
import Linecard
import XCTest

/// Gateways as processes sharing one PostgreSQL queue, driven by the reference client: work
/// goes to whichever box has a free line, a box killed mid-call loses nothing, and a database
/// restarted in the middle loses nothing.
final class SharedQueueGatewayTests: XCTestCase {
    private static let message = "Your appointment is tomorrow at nine."

    /// A box on the simulated card in real time (so that a kill lands in the middle of a
    /// call), with two lines and a short lease.
    private func box(_ id: String, database url: String, lease: Double = 2, lines: [Int]? = nil) throws -> RunningGateway {
        var settings: [String: Any] = [
            "card": ["clock": "paced", "fxoPorts": 2],
            "queue": ["kind": "postgres", "url": url, "leaseSeconds": lease, "timeoutSeconds": 2],
            "gatewayId": id,
            "retry": ["attempts": 3, "interval": 0.3],
        ]
        if let lines { settings["lines"] = lines }
        return try RunningGateway(settings: settings)
    }

    private func waitUntil(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func testThreeBoxesShareTheQueueAndABoxKilledMidCallLosesNothing() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let a = try box("a", database: url), b = try box("b", database: url), c = try box("c", database: url)
        let boxes = [a, b, c]
        // The reference client, unchanged, spreads its requests over the three boxes.
        var ids: [String] = []
        for i in 0..<6 {
            let id = try boxes[i % 3].python("callText", "200", Self.message, "0") as? String ?? ""
            XCTAssertFalse(id.isEmpty, "box \(i % 3) accepted the request")
            ids.append(id)
        }
        XCTAssertEqual(Set(ids).count, 6, "ReqIds are unique across boxes")
        // Kill c while it has a call on a line.
        let busy = try await waitUntil(30) {
            let lines = try await c.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            return lines.contains { $0["request"] != nil }
        }
        XCTAssertTrue(busy, "box c took work")
        c.stop(signal: SIGKILL)
        // Every accepted request ends, on the surviving boxes, and any box answers for any.
        var finals: [[String: Any]] = []
        for (index, id) in ids.enumerated() {
            let call = try await [a, b][index % 2].waitUntilFinished(id, seconds: 120)
            finals.append(call ?? [:])
        }
        var interrupted = 0
        var byBox: [String: Int] = [:]
        for (id, call) in zip(ids, finals) {
            XCTAssertEqual(call["status"] as? String, "made", "request \(id): \(call)")
            let attempts = call["attempts"] as? [[String: Any]] ?? []
            let numbers = attempts.compactMap { $0["number"] as? Int }
            XCTAssertEqual(numbers, Array(1...max(1, numbers.count)), "request \(id): no attempt number twice: \(numbers)")
            XCTAssertEqual(attempts.filter { $0["outcome"] as? String == "made" }.count, 1, "request \(id) was made once")
            for attempt in attempts {
                if attempt["outcome"] as? String == "interrupted" {
                    interrupted += 1
                    XCTAssertEqual(attempt["gateway"] as? String, "c", "only the killed box's calls were interrupted")
                }
                if let box = attempt["gateway"] as? String { byBox[box, default: 0] += 1 }
            }
        }
        XCTAssertGreaterThan(interrupted, 0, "the kill landed in the middle of a call")
        XCTAssertEqual(Set(byBox.keys), ["a", "b", "c"], "every box took work: \(byBox)")
        // The reference client asks one box about a request another accepted.
        let status = try a.python("callStatus", ids[1]) as? String
        XCTAssertEqual(status, "Call Made")
        let gateways = try await a.json("GET", "/api/v1/gateways").json as? [[String: Any]] ?? []
        XCTAssertEqual(gateways.compactMap { $0["id"] as? String }, ["a", "b", "c"])
        XCTAssertEqual(gateways.first { $0["id"] as? String == "c" }?["alive"] as? Bool, false)
        XCTAssertEqual(gateways.first { $0["id"] as? String == "a" }?["alive"] as? Bool, true)
    }

    func testAnAudioFileOnTheBoxThatAcceptedItIsPlayedByTheBoxThatCalls() async throws {
        let url = try PostgresServer.shared().createDatabase()
        // a takes requests but has no calling line; b calls, and has no such file.
        let a = try box("a", database: url, lines: []), b = try box("b", database: url)
        try FileManager.default.createDirectory(at: a.files, withIntermediateDirectories: true)
        let tone = (0..<8000).map { Int16(8000 * sin(Double($0) * 2 * .pi * 440 / 8000)) }
        try WAVFile.encode(tone).write(to: a.files.appendingPathComponent("only-on-a.wav"))
        let id = try a.python("callAudio", "200", "only-on-a.wav", "0") as? String ?? ""
        let call = try await b.waitUntilFinished(id, seconds: 60)
        XCTAssertEqual(call?["status"] as? String, "made", "\(call ?? [:])")
        let attempts = call?["attempts"] as? [[String: Any]] ?? []
        XCTAssertEqual(attempts.compactMap { $0["gateway"] as? String }, ["b"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: b.files.appendingPathComponent("only-on-a.wav").path))
    }

    func testARemovalOnOneBoxHangsUpTheCallOnAnother() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let a = try box("a", database: url)
        // One box calls; the other only takes requests (it has lines, but a is first to claim).
        let id = try a.python("callText", "400", Self.message, "0") as? String ?? ""
        let b = try box("b", database: url)
        let calling = try await waitUntil(30) {
            let lines = try await a.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            return lines.contains { ($0["request"] as? Int).map(String.init) == id }
        }
        XCTAssertTrue(calling)
        _ = try b.python("callRemove", id)
        let hungUp = try await waitUntil(10) {
            let lines = try await a.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            return !lines.contains { $0["request"] != nil }
        }
        XCTAssertTrue(hungUp, "the box calling for the removed request hung up")
        let gone = try await b.call(id)
        XCTAssertNil(gone)
    }

    func testADatabaseRestartedInTheMiddleLosesNothing() async throws {
        let server = try PostgresServer.shared()
        let url = try server.createDatabase()
        let a = try box("a", database: url, lease: 30), b = try box("b", database: url, lease: 30)
        var ids: [String] = []
        for i in 0..<4 { ids.append(try [a, b][i % 2].python("callText", "200", Self.message, "0") as? String ?? "") }
        let busy = try await waitUntil(30) {
            let lines = try await a.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            return lines.contains { $0["request"] != nil }
        }
        XCTAssertTrue(busy)
        try server.stop()
        var restarted = false
        defer { if !restarted { try? server.start() } }
        // While it is away: /health says so, and a request gets a clear 503, not a ReqId.
        let unhealthy = try await waitUntil(10) { try await a.request("GET", "/health").status == 503 }
        XCTAssertTrue(unhealthy)
        let refused = try await b.post("/ocall/callreqHandler.jsp", ["phoneno": "200", "txt": "hello", "info": "while away"])
        XCTAssertEqual(refused.status, 503)
        XCTAssertTrue(refused.body.hasPrefix("ERROR: ") && refused.body.contains("database"), refused.body)
        XCTAssertFalse(refused.body.contains("ReqId"))
        let metrics = try await a.request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200, "this box's metrics are still served")
        XCTAssertTrue(metrics.body.contains("linecard_queue_database_up 0"), metrics.body)
        try await Task.sleep(for: .seconds(3))
        try server.start()
        restarted = true
        let healthy = try await waitUntil(20) { try await a.request("GET", "/health").status == 200 }
        XCTAssertTrue(healthy)
        for id in ids {
            let call = try await a.waitUntilFinished(id, seconds: 120)
            XCTAssertEqual(call?["status"] as? String, "made", "request \(id): \(call ?? [:])")
            let numbers = (call?["attempts"] as? [[String: Any]] ?? []).compactMap { $0["number"] as? Int }
            XCTAssertEqual(numbers, Array(1...max(1, numbers.count)))
        }
    }
}
