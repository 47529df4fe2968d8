import Foundation
import XCTest

/// The number-rental service's SMS webhook hosted by the gateway.
final class SMSWebhookTests: XCTestCase {
    let secret = "hook-secret-0123456789"

    func testAnSMSPostedToTheWebhookIsReadAloudToTheConfiguredNumber() async throws {
        let gateway = try RunningGateway(settings: [
            "smsWebhook": ["secret": secret, "action": "call", "callNumber": "200"],
        ])
        let sms = #"{"id": 1234, "e164": "+1234567890", "sender": "+1234", "content": "The server room is too hot."}"#
        let reply = try await gateway.request("POST", "/sms/webhook/\(secret)", body: Data(sms.utf8), contentType: "application/json")
        XCTAssertEqual(reply.status, 200, reply.body)
        let outcome = try XCTUnwrap((reply.json as? [String: String])?["outcome"])
        XCTAssertTrue(outcome.hasPrefix("call request "), outcome)
        let id = String(outcome.dropFirst("call request ".count))
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "made", "\(call ?? [:])")
        XCTAssertEqual(call?["number"] as? String, "200")
        let text = (call?["message"] as? [String: String])?["text"]
        XCTAssertEqual(text, "Text message from 1 2 3 4. The server room is too hot.")
        XCTAssertEqual((call?["attempts"] as? [[String: Any]])?.first?["dialled"] as? String, "200",
                       "the simulated exchange's person on 200 took the call")

        // The service may deliver twice: the second delivery makes no second call.
        let again = try await gateway.request("POST", "/sms/webhook", body: Data(sms.utf8), contentType: "application/json",
                                              headers: ["X-Webhook-Secret": secret])
        XCTAssertEqual((again.json as? [String: String])?["outcome"], "duplicate: already received")
        let calls = try await gateway.json("GET", "/api/v1/calls").json as? [Any]
        XCTAssertEqual(calls?.count, 1)
    }

    func testTheWebhookRefusesWrongSecretsAndBadBodies() async throws {
        // The service posts from the internet: the webhook needs no allowed network, only
        // its secret. Here even loopback is not an allowed network.
        let token = "admin-token-0123456789"
        let gateway = try RunningGateway(settings: ["smsWebhook": ["secret": secret], "allowedNetworks": ["10.255.255.0/24"],
                                                    "token": token])
        let closed = try await gateway.request("GET", "/health")
        XCTAssertEqual(closed.status, 403)
        let good = #"{"id": 1, "e164": "+1234567890", "sender": "+1234", "content": "hi"}"#
        let wrong = try await gateway.request("POST", "/sms/webhook/not-the-secret-000", body: Data(good.utf8), contentType: "application/json")
        XCTAssertEqual(wrong.status, 403)
        let missing = try await gateway.request("POST", "/sms/webhook", body: Data(good.utf8), contentType: "application/json")
        XCTAssertEqual(missing.status, 403)
        for (body, reason) in [("{", "not an SMS notification"), (#"{"id": 2, "e164": "12345", "sender": "+1", "content": "x"}"#, "E.164"),
                               (#"{"id": 3, "e164": "+1234567890", "content": "x"}"#, "sender is missing")] {
            let reply = try await gateway.request("POST", "/sms/webhook/\(secret)", body: Data(body.utf8), contentType: "application/json")
            XCTAssertEqual(reply.status, 400, body)
            XCTAssertTrue(reply.body.contains(reason), "\(body): \(reply.body)")
        }
        let stored = try await gateway.request("POST", "/sms/webhook/\(secret)", body: Data(good.utf8), contentType: "application/json")
        XCTAssertEqual((stored.json as? [String: String])?["outcome"], "stored")
        let inbox = try await gateway.request("GET", "/api/v1/sms", headers: ["Authorization": "Bearer \(token)"]).json as? [[String: Any]]
        XCTAssertEqual(inbox?.count, 1)
        XCTAssertEqual(inbox?.first?["content"] as? String, "hi")
    }

    func testAnSMSIsForwardedToALocalProgram() async throws {
        // The local program: a small HTTP server that writes what it receives to a file.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("forward-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let received = folder.appendingPathComponent("received.json")
        let program = Process()
        program.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        program.arguments = ["python3", "-c", """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers['Content-Length']))
                    open(sys.argv[1], 'wb').write(body)
                    self.send_response(204); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            print(s.server_port, flush=True)
            s.serve_forever()
            """, received.path]
        let out = Pipe()
        program.standardOutput = out
        // Not the test's own stderr: an orphan holding it would keep `swift test` waiting.
        program.standardError = FileHandle.nullDevice
        try program.run()
        defer {
            kill(program.processIdentifier, SIGKILL)
            program.waitUntilExit()
        }
        let port = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)

        let gateway = try RunningGateway(settings: [
            "smsWebhook": ["secret": secret, "action": "forward", "forwardURL": "http://127.0.0.1:\(port)/sms"]])
        let sms = #"{"id": 77, "e164": "+1234567890", "sender": "+1999", "content": "forward me"}"#
        let reply = try await gateway.request("POST", "/sms/webhook/\(secret)", body: Data(sms.utf8), contentType: "application/json")
        XCTAssertEqual((reply.json as? [String: String])?["outcome"], "forwarding", reply.body)
        var inbox: [[String: Any]] = []
        for _ in 0..<250 {
            inbox = try await gateway.json("GET", "/api/v1/sms").json as? [[String: Any]] ?? []
            if inbox.first?["action"] as? String != "stored" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTAssertEqual(inbox.first?["action"] as? String, "forwarded")
        let forwarded = try JSONSerialization.jsonObject(with: Data(contentsOf: received)) as? [String: Any]
        XCTAssertEqual(forwarded?["content"] as? String, "forward me")
        XCTAssertEqual((forwarded?["id"] as? NSNumber)?.intValue, 77)
    }

    func testWebhookConfigurationErrorsAreOneLine() throws {
        for (text, message) in [(#"{"smsWebhook": {"secret": "short"}}"#, "at least 16"),
                                (#"{"smsWebhook": {"secret": "0123456789abcdefgh", "action": "call"}}"#, "callNumber is needed"),
                                (#"{"smsWebhook": {"secret": "0123456789abcdefgh", "action": "forward"}}"#, "forwardURL"),
                                (#"{"smsWebhook": {"action": "store"}}"#, "secret is missing")] {
            let (status, out) = try RunningGateway.run(configuration: text)
            XCTAssertNotEqual(status, 0)
            XCTAssertTrue(out.contains(message), "\(text): \(out)")
        }
    }
}
