import Linecard
import Foundation
import LinecardGateway
import XCTest

/// Clients that are refused, greedy, slow, careless or hostile: the gateway stays up, keeps
/// its descriptors, answers /health, and idles without burning a core.
final class HostileClientTests: XCTestCase {
    func testARefusedClientsConnectionIsClosedAfterThe403() async throws {
        // Loopback is not an allowed network here: this test's client is an outsider.
        let gateway = try RunningGateway(settings: ["allowedNetworks": ["192.0.2.0/24"]])
        let reply = try RawConnection.exchange(port: gateway.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        XCTAssertTrue(reply.text.hasPrefix("HTTP/1.1 403"), reply.text)
        XCTAssertTrue(reply.text.contains("allowedNetworks"), reply.text)
        XCTAssertTrue(reply.closed, "the refused client's connection is closed after the 403")

        // A thousand idle refused connections do not pile up in the gateway.
        let before = gateway.openDescriptors()
        var held: [RawConnection] = []
        for _ in 0..<300 {
            let c = try RawConnection(port: gateway.port)
            c.send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            held.append(c)
        }
        // Each is answered and closed; a loaded machine may take a few seconds for all 300.
        var open = held
        let deadline = Date().addingTimeInterval(15)
        while !open.isEmpty, Date() < deadline {
            open = open.filter { !$0.read(seconds: 0.02).closed }
        }
        XCTAssertEqual(open.count, 0, "every refused connection was closed")
        XCTAssertLessThan(gateway.openDescriptors(), before + 20, "refused connections were closed")
    }

    func testConnectionsBeyondTheCapWaitOrGet503AndHealthStillAnswers() async throws {
        let gateway = try RunningGateway(settings: ["limits": ["maxConnections": 8, "headerTimeoutSeconds": 1]])
        let before = gateway.openDescriptors()
        // Idle connections that never send a request: more than the cap and its reserve.
        var idle: [RawConnection] = []
        for _ in 0..<120 { idle.append(try RawConnection(port: gateway.port)) }
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertLessThanOrEqual(gateway.openDescriptors(), before + 8 + 32 + 4, "no more connections are held than the cap and its reserve")
        // /health answers all the same (idle connections are closed after the header timeout).
        let started = Date()
        let health = try await gateway.json("GET", "/health")
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        // A connection over the cap that asks for something else is told why.
        var overflow: [RawConnection] = []
        for _ in 0..<40 { overflow.append(try RawConnection(port: gateway.port)) }
        var told503 = false
        for c in overflow {
            c.send("GET /api/v1/lines HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        }
        for c in overflow where c.read(seconds: 1.5).text.contains("503 Service Unavailable") { told503 = true }
        XCTAssertTrue(told503, "connections beyond the cap are told 503")
        // Every idle connection is closed by the header timeout.
        var closed = 0
        for c in idle where c.read(seconds: 0.05).closed || c.read(seconds: 3).closed { closed += 1 }
        XCTAssertEqual(closed, idle.count, "idle connections are closed after headerTimeoutSeconds")
        let healthAfter = try await gateway.json("GET", "/health").status
        XCTAssertEqual(healthAfter, 200)
    }

    func testADescriptorLimitBelowTheCapDoesNotKillTheGateway() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { throw XCTSkip("no prlimit (util-linux)") }
        let gateway = try RunningGateway(settings: ["limits": ["maxConnections": 5000, "headerTimeoutSeconds": 1]],
                                         launcher: ["/usr/bin/prlimit", "--nofile=200:200"])
        XCTAssertTrue(gateway.logText().contains("limits.maxConnections lowered"), gateway.logText())
        var held: [RawConnection] = []
        for _ in 0..<400 {
            guard let c = try? RawConnection(port: gateway.port) else { break }
            held.append(c)
        }
        XCTAssertLessThanOrEqual(gateway.openDescriptors(), 200)
        let health = try await gateway.json("GET", "/health")
        XCTAssertEqual(health.status, 200)
        // A call still goes through: the gateway has descriptors left for its own work.
        let id = try XCTUnwrap(gateway.python("callText", "201", "Still here.", "0") as? String)
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "made", gateway.logText())
        held.removeAll()
        XCTAssertNotNil(gateway.process?.isRunning == true ? gateway.process : nil, "the gateway is still running")
        XCTAssertFalse(gateway.logText().contains("Fatal error"), gateway.logText())
    }

    func testAnIdleGatewayUsesAlmostNoCPU() async throws {
        // The paced clock, as `make run` uses: the dialler must sleep, not poll without end.
        let gateway = try RunningGateway(settings: ["card": ["clock": "paced"]])
        let id = try XCTUnwrap(gateway.python("callText", "201", "One call, then nothing.", "0") as? String)
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "made")
        try await Task.sleep(for: .seconds(1))
        let before = gateway.cpuSeconds()
        try await Task.sleep(for: .seconds(4))
        let used = gateway.cpuSeconds() - before
        // The card's tick loop runs at 50 blocks a second and costs a few per cent; a dialler
        // that spins costs a whole core.
        XCTAssertLessThan(used / 4, 0.15, "an idle gateway used \(used) s of CPU in 4 s")
    }

    func testAPortInUseIsOneClearLineAndNoCallIsPlaced() async throws {
        let holder = try RunningGateway()
        // A queued request in a second gateway's data folder must not be dialled by a gateway
        // that cannot listen.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString)")
        let second = try RunningGateway(data: folder)
        _ = try XCTUnwrap(second.python("callText", "400", "Never dialled.", "0") as? String)
        second.stop(signal: SIGKILL)
        try await Task.sleep(for: .milliseconds(200))
        let settings: [String: Any] = RunningGateway.defaultSettings.merging(
            ["port": holder.port, "dataDirectory": folder.appendingPathComponent("data").path]) { $1 }
        let file = folder.appendingPathComponent("clash.json")
        try JSONSerialization.data(withJSONObject: settings).write(to: file)
        let process = Process()
        process.executableURL = RunningGateway.executable
        process.arguments = ["--config", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let started = Date()
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertLessThan(Date().timeIntervalSince(started), 15, "the gateway gives up at once")
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(output.contains("cannot listen on 127.0.0.1:\(holder.port): the address is in use"), output)
        XCTAssertFalse(output.contains("calling"), "no call was placed: \(output)")
        XCTAssertFalse(output.contains("Fatal error"), output)
        let health = try await holder.json("GET", "/health").status
        XCTAssertEqual(health, 200)
    }

    func testASecondGatewayOnTheSameDataFolderRefusesToStart() async throws {
        let first = try RunningGateway(settings: ["card": ["clock": "paced"]])
        let id = try XCTUnwrap(first.python("callText", "201", String(repeating: "A longer message. ", count: 3), "0") as? String)
        for _ in 0..<200 {
            if (try await first.call(id))?["status"] as? String == "calling" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        var settings = RunningGateway.defaultSettings
        settings["dataDirectory"] = first.data.appendingPathComponent("data").path
        let (status, output) = try RunningGateway.run(configuration: String(decoding: try JSONSerialization.data(withJSONObject: settings), as: UTF8.self))
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("is in use by another linecard-gateway (process \(first.pid))"), output)
        // The first gateway's call was left alone: it is made, not interrupted.
        let call = try await first.waitUntilFinished(id, seconds: 60)
        XCTAssertEqual(call?["status"] as? String, "made", "\(call ?? [:])")
        XCTAssertEqual((call?["attempts"] as? [Any])?.count, 1)
    }

    func testReqIdsAreNeverGivenOutTwice() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("queue-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("calls.sqlite").path
        let request = NewCallRequest(number: try DialString("400"), message: .text("Burst"), deadline: Date().addingTimeInterval(3600))
        let newest: Int64, next: Int64
        do {
            let queue = try SQLiteCallQueue(path: path, policy: RetryPolicy())
            // A burst: requests that arrive together share a commit, and their ids (milliseconds
            // since 1970, made unique) run ahead of the clock.
            let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<1000 { group.addTask { try await queue.submit(request) } }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            XCTAssertEqual(Set(ids).count, ids.count)
            // Remove the newest at once: its id is not handed out again, nor after a restart.
            newest = ids.max()!
            let removed = try await queue.remove(newest)
            XCTAssertTrue(removed)
            next = try await queue.submit(request)
            XCTAssertGreaterThan(next, newest, "the removed request's ReqId was given out again")
            _ = try await queue.remove(next)
        }
        let reopened = try SQLiteCallQueue(path: path, policy: RetryPolicy())
        let afterRestart = try await reopened.submit(request)
        XCTAssertGreaterThan(afterRestart, next)
    }

    func testTheJSONInterfaceRefusesWhatABrowserPageCouldSend() async throws {
        let gateway = try RunningGateway(settings: ["allowedOrigins": ["https://app.example.com"], "hostNames": ["gateway.lan"]])
        let call = #"{"number": "201", "text": "hello"}"#
        // A form or text/plain body is what any page can POST without asking.
        let plain = try await gateway.request("POST", "/api/v1/calls", body: Data(call.utf8), contentType: "text/plain")
        XCTAssertEqual(plain.status, 415, plain.body)
        // A page from another origin.
        let foreign = try await gateway.request("POST", "/api/v1/calls", body: Data(call.utf8), contentType: "application/json",
                                                headers: ["Origin": "http://evil.example"])
        XCTAssertEqual(foreign.status, 403, foreign.body)
        XCTAssertTrue(foreign.body.contains("allowedOrigins"), foreign.body)
        // DNS rebinding: the gateway reached under a foreign host name.
        let rebound = try RawConnection.exchange(port: gateway.port, "GET /api/v1/calls HTTP/1.1\r\nHost: evil.example:\(gateway.port)\r\n\r\n", seconds: 1)
        XCTAssertTrue(rebound.text.hasPrefix("HTTP/1.1 403"), rebound.text)
        for host in ["localhost:\(gateway.port)", "gateway.lan", "127.0.0.1", "[::1]:\(gateway.port)"] {
            let known = try RawConnection.exchange(port: gateway.port, "GET /api/v1/lines HTTP/1.1\r\nHost: \(host)\r\n\r\n", seconds: 1)
            XCTAssertTrue(known.text.hasPrefix("HTTP/1.1 200"), "\(host): \(known.text)")
        }
        // A configured origin is let through and told so.
        let allowed = try await gateway.request("POST", "/api/v1/calls", body: Data(call.utf8), contentType: "application/json",
                                                headers: ["Origin": "https://app.example.com"])
        XCTAssertEqual(allowed.status, 201, allowed.body)
        // Nothing but the allowed request was queued; the simple call interface still takes forms.
        let queued = try await gateway.json("GET", "/api/v1/calls").json as? [Any]
        XCTAssertEqual(queued?.count, 1)
        let form = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "txt": "hello"])
        XCTAssertEqual(form.status, 200)
    }

    func testProtocolDetailsAreAnsweredAsHTTPSays() async throws {
        let gateway = try RunningGateway(settings: ["limits": ["maxRequestBytes": 2048]])
        // HTTP/1.0 without keep-alive: answered, then closed (also after a 413).
        let old = try RawConnection.exchange(port: gateway.port, "GET /health HTTP/1.0\r\n\r\n")
        XCTAssertTrue(old.text.contains(" 200 "), old.text)
        XCTAssertTrue(old.closed, "an HTTP/1.0 connection is closed after the answer")
        let big = String(repeating: "a", count: 4096)
        let tooLarge = try RawConnection.exchange(port: gateway.port,
            "POST /ocall/callreqHandler.jsp HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(big.utf8.count + 14)\r\n\r\nphoneno=1&txt=\(big)")
        XCTAssertTrue(tooLarge.text.contains(" 413 "), tooLarge.text)
        XCTAssertTrue(tooLarge.closed)
        // HTTP/1.1 keeps the connection.
        let kept = try RawConnection.exchange(port: gateway.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", seconds: 1)
        XCTAssertTrue(kept.text.contains(" 200 "), kept.text)
        XCTAssertFalse(kept.closed)
        // A broken chunk size is a bad request, not a large one.
        let chunk = try RawConnection.exchange(port: gateway.port,
            "POST /ocall/callreqHandler.jsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nphoneno=1\r\n0\r\n\r\n", seconds: 1)
        XCTAssertTrue(chunk.text.contains(" 400 "), chunk.text)
        // A method a path does not take.
        let put = try await gateway.request("PUT", "/api/v1/calls", body: Data("{}".utf8), contentType: "application/json")
        XCTAssertEqual(put.status, 405, put.body)
        let delete = try await gateway.request("DELETE", "/health")
        XCTAssertEqual(delete.status, 405, delete.body)
        // A limit that is not a number.
        let limit = try await gateway.json("GET", "/api/v1/calls?limit=abc")
        XCTAssertEqual(limit.status, 400, limit.body)
        // A NUL in info is kept, not the end of it.
        let reply = try await gateway.request("POST", "/ocall/callreqHandler.jsp", body: Data("phoneno=400&txt=hi&firstocc=60&info=before%00after".utf8),
                                              contentType: "application/x-www-form-urlencoded")
        let id = try XCTUnwrap(Self.reqID(reply.body))
        let stored = try await gateway.call(String(id))
        XCTAssertEqual(stored?["info"] as? String, "before\u{0}after")
    }

    func testPrintConfigurationShowsTheFileAndConnectionRules() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gwprint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("g.json")
        try #"{"allowedFileFolders": ["/srv/prompts"], "allowedOrigins": ["https://app.example.com"], "limits": {"maxConnections": 64}, "retry": {"confirmRounds": 5}}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = RunningGateway.executable
        process.arguments = ["--config", file.path, "--print-configuration", "--data", folder.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertTrue(output.contains("files read from: \(folder.path)/files, /srv/prompts"), output)
        XCTAssertTrue(output.contains("https://app.example.com"), output)
        XCTAssertTrue(output.contains("64 connections"), output)
        XCTAssertTrue(output.contains("call-till-confirm lists 5 rounds at most"), output)
    }

    static func reqID(_ body: String) -> Int64? {
        body.range(of: #"(?<=\[ReqId=)\d+"#, options: .regularExpression).flatMap { Int64(body[$0]) }
    }
}
