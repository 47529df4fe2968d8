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

    func testWebhookConfigurationErrorsAreOneLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hookconf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (text, message) in [(#"{"smsWebhook": {"secret": "short"}}"#, "at least 16"),
                                (#"{"smsWebhook": {"secret": "0123456789abcdefgh", "action": "call"}}"#, "callNumber is needed"),
                                (#"{"smsWebhook": {"secret": "0123456789abcdefgh", "action": "forward"}}"#, "forwardURL"),
                                (#"{"smsWebhook": {"action": "store"}}"#, "secret is missing")] {
            let file = folder.appendingPathComponent("g.json")
            try text.write(to: file, atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = RunningGateway.executable
            process.arguments = ["--config", file.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertNotEqual(process.terminationStatus, 0)
            XCTAssertTrue(out.contains(message), "\(text): \(out)")
        }
    }
}
