import Foundation
import Linecard
import XCTest

/// The queue survives kill -9 and SIGTERM; the JSON interface, access control, the
/// configuration file and many clients at once.
final class DurabilityTests: XCTestCase {
    /// A minute of quiet tone: calls long enough to be caught in progress.
    private func longMessage(in gateway: RunningGateway) throws -> String {
        let path = gateway.files.appendingPathComponent("long.wav").path
        try WAVFile.write((0..<480_000).map { Int16(1000 * sin(Double($0) * 2 * .pi * 300 / 8000)) }, to: path)
        return path
    }

    private func waitForBusyLine(_ gateway: RunningGateway) async throws {
        for _ in 0..<500 {
            let lines = try await gateway.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            if lines.contains(where: { $0["request"] != nil }) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("no line took a call")
    }

    func testKill9WithRequestsQueuedLosesNoneAndRedialsNoAttempt() async throws {
        let gateway = try RunningGateway(settings: ["retry": ["attempts": 3, "interval": 0.2]])
        let message = try longMessage(in: gateway)
        var ids: [String] = []
        for _ in 0..<6 { ids.append(try XCTUnwrap(gateway.python("callAudio", "201", message, "0") as? String)) }
        XCTAssertEqual(Set(ids).count, 6)
        try await waitForBusyLine(gateway)
        gateway.stop(signal: SIGKILL)

        try gateway.start()
        var interrupted = 0
        for id in ids {
            let call = try await gateway.waitUntilFinished(id, seconds: 120)
            XCTAssertEqual(call?["status"] as? String, "made", "request \(id) after the restart: \(call ?? [:])")
            let attempts = call?["attempts"] as? [[String: Any]] ?? []
            // An attempt cut by the crash stays recorded as interrupted; the retry is a new attempt.
            let numbers = attempts.compactMap { ($0["number"] as? NSNumber)?.intValue }
            XCTAssertEqual(numbers, Array(1...max(1, numbers.count)), "attempt numbers of \(id)")
            interrupted += attempts.filter { $0["outcome"] as? String == "interrupted" }.count
            XCTAssertEqual(attempts.last?["outcome"] as? String, "made")
        }
        XCTAssertGreaterThan(interrupted, 0, "some calls were in progress when the gateway was killed")
        XCTAssertTrue(gateway.logText().contains("listening"), gateway.logText())
    }

    func testSIGTERMFinishesWithinTheGracePeriodAndKeepsTheQueue() async throws {
        let gateway = try RunningGateway(settings: ["gracePeriod": 1, "card": ["clock": "paced"], "retry": ["attempts": 3, "interval": 0.2]])
        let message = try longMessage(in: gateway)
        let inProgress = try XCTUnwrap(gateway.python("callAudio", "201", message, "0") as? String)
        try await waitForBusyLine(gateway)
        var queued: [String] = []
        for _ in 0..<5 { queued.append(try XCTUnwrap(gateway.python("callAudio", "201", message, "0") as? String)) }
        let started = Date()
        XCTAssertEqual(gateway.stop(signal: SIGTERM), 0, gateway.logText())
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the gateway stops within its grace period")
        XCTAssertTrue(gateway.logText().contains("grace period over"), gateway.logText())

        // Restart in virtual time: everything accepted before the signal is still there.
        var settings = try JSONSerialization.jsonObject(with: Data(contentsOf: gateway.configuration)) as! [String: Any]
        settings["card"] = ["clock": "virtual"]
        try JSONSerialization.data(withJSONObject: settings).write(to: gateway.configuration)
        try gateway.start()
        for id in [inProgress] + queued {
            let call = try await gateway.call(id)
            XCTAssertNotNil(call, "request \(id) survived the stop")
        }
        let first = try await gateway.call(inProgress)
        let attempts = first?["attempts"] as? [[String: Any]] ?? []
        XCTAssertEqual(attempts.first?["outcome"] as? String, "interrupted", "\(first ?? [:])")
        gateway.stop(signal: SIGKILL)
    }

    func testJSONInterfaceCreatesListsGetsAndCancelsCalls() async throws {
        let gateway = try RunningGateway()
        let created = try await gateway.json("POST", "/api/v1/calls", ["number": "201", "text": "Hello from the JSON interface."])
        XCTAssertEqual(created.status, 201, created.body)
        let id = try XCTUnwrap((created.json as? [String: Any])?["id"] as? NSNumber).stringValue
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "made")
        let list = try await gateway.json("GET", "/api/v1/calls?status=made").json as? [[String: Any]]
        XCTAssertEqual(list?.count, 1)
        let badFilter = try await gateway.json("GET", "/api/v1/calls?status=odd").status
        XCTAssertEqual(badFilter, 400)
        let deleted = try await gateway.json("DELETE", "/api/v1/calls/\(id)").status
        XCTAssertEqual(deleted, 204)
        let deletedAgain = try await gateway.json("DELETE", "/api/v1/calls/\(id)").status
        XCTAssertEqual(deletedAgain, 404)
        let afterDelete = try await gateway.json("GET", "/api/v1/calls/\(id)").status
        XCTAssertEqual(afterDelete, 404)

        let confirm = try await gateway.json("POST", "/api/v1/calls", ["number": "0", "text": "Press one two three four.",
                                                                      "numbers": ["300", "200"], "confirmationCode": "1234"])
        XCTAssertEqual(confirm.status, 201, confirm.body)
        let confirmID = try XCTUnwrap((confirm.json as? [String: Any])?["id"] as? NSNumber).stringValue
        let confirmed = try await gateway.waitUntilFinished(confirmID)
        XCTAssertEqual(confirmed?["reason"] as? String, "Confirmed by 200", "\(confirmed ?? [:])")

        let lines = try await gateway.json("GET", "/api/v1/lines").json as? [[String: Any]]
        XCTAssertEqual(lines?.count, 4)
        let metrics = try await gateway.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains("linecard_call_attempts_total{outcome=\"made\"} 2"), metrics)
        XCTAssertTrue(metrics.contains("linecard_queue_requests{status=\"made\"} 1"), metrics)
        XCTAssertTrue(metrics.contains("linecard_engine_tick_overruns"), metrics)
    }

    func testRemoteClientsNeedAnAllowedNetworkOrTheToken() async throws {
        guard let address = Self.nonLoopbackAddress() else { throw XCTSkip("this machine has no non-loopback IPv4 address") }
        let token = "s3cret-token-for-tests"
        let gateway = try RunningGateway(settings: ["address": "0.0.0.0", "allowedNetworks": ["127.0.0.0/8"], "token": token])
        let refused = try await gateway.request("GET", "/health", host: address)
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(refused.body.contains("Authorization: Bearer"), refused.body)
        let withToken = try await gateway.request("GET", "/health", headers: ["Authorization": "Bearer \(token)"], host: address)
        XCTAssertEqual(withToken.status, 200)
        let wrongToken = try await gateway.request("GET", "/health", headers: ["Authorization": "Bearer nope"], host: address)
        XCTAssertEqual(wrongToken.status, 403)
        let fromLoopback = try await gateway.request("GET", "/health").status
        XCTAssertEqual(fromLoopback, 200, "loopback is an allowed network")
    }

    func testBadConfigurationFilesGetAOneLineError() throws {
        for (text, message) in [("{", "not valid JSON"), ("{\"prot\": 1}", "unknown key \"prot\""),
                                ("{\"retry\": {\"attempts\": 0}}", "retry.attempts is 0"),
                                ("{\"allowedNetworks\": [\"10.0.0.0/99\"]}", "10.0.0.0/99"),
                                ("{\"card\": {\"country\": \"fr\"}}", "card.country"),
                                ("{\"token\": \"short\"}", "at least 16"),
                                ("{\"card\": {\"kind\": \"alsa\"}}", "card.devices: name at least one ALSA device"),
                                ("{\"card\": {\"kind\": \"dahdi\"}, \"lines\": [0]}", "lines: on dahdi the lines are the card's own"),
                                ("{\"card\": {\"kind\": \"isdn\"}}", "card.kind"),
                                ("{\"card\": {\"isdn\": \"e3\"}}", "card.isdn is \"e3\"; use one of e1, t1, bri, bri-ptmp"),
                                ("{\"card\": {\"isdn\": \"e1\", \"clock\": \"virtual\"}}", "card.clock: a simulated ISDN span runs in real time"),
                                ("{\"card\": {\"isdn\": \"bri\"}, \"lines\": [2]}", "lines: port 2 is not a B-channel of the simulated bri span"),
                                ("{\"card\": {\"kind\": \"alsa\", \"devices\": [\"null\"], \"isdn\": \"e1\"}}", "card.isdn: a simulated span is for card.kind simulated")]
            + (FileManager.default.fileExists(atPath: "/dev/dahdi/ctl") ? [] : [("{\"card\": {\"kind\": \"dahdi\"}}", "the DAHDI kernel modules are not loaded")]) {
            let (status, out) = try RunningGateway.run(configuration: text)
            XCTAssertNotEqual(status, 0, text)
            XCTAssertTrue(out.contains(message), "\(text): \(out)")
            XCTAssertFalse(out.contains("Fatal error") || out.contains("Backtrac"), out)
        }
    }

    /// Clients submitting and polling at once: every request gets its own id and is found.
    func testConcurrentClientsLoseNoRequest() async throws {
        let gateway = try RunningGateway()
        let clients = 8, perClient = 25
        let ids = try await withThrowingTaskGroup(of: [String].self) { group in
            for c in 0..<clients {
                group.addTask {
                    var ids: [String] = []
                    for n in 0..<perClient {
                        let reply = try await gateway.post("/ocall/callreqHandler.jsp",
                                                           ["info": "load", "phoneno": "201", "firstocc": "10", "txt": "Load \(c) \(n)", "selfdelete": "0"])
                        XCTAssertEqual(reply.status, 200, reply.body)
                        guard let range = reply.body.range(of: #"(?<=\[ReqId=)\d+"#, options: .regularExpression) else {
                            XCTFail(reply.body); continue
                        }
                        let id = String(reply.body[range])
                        let status = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": id])
                        XCTAssertTrue(status.body.hasPrefix("["), status.body)
                        ids.append(id)
                    }
                    return ids
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        XCTAssertEqual(ids.count, clients * perClient)
        XCTAssertEqual(Set(ids).count, ids.count, "every request has its own ReqId")
        let listed = try await gateway.json("GET", "/api/v1/calls?limit=1000").json as? [[String: Any]] ?? []
        XCTAssertEqual(listed.count, ids.count)
    }

    static func nonLoopbackAddress() -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            getnameinfo(address, socklen_t(MemoryLayout<sockaddr_in>.size), &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            let text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.hasPrefix("127.") { return text }
        }
        return nil
    }
}
