import Foundation
import XCTest

/// `linecard numbers …` run as a process against the fake service.
final class NumbersCommandTests: XCTestCase {
    func testSubcommandsPrintResultsAndJSON() async throws {
        let service = FakeService()
        try await service.start()
        defer { service.stop() }
        service.reply("GET", "/api/v1/account", json: #"{"balance": 12345}"#)
        service.reply("GET", "/api/v1/number", json: NumberProviderClientTests.number)
        service.reply("PUT", "/api/v1/number/sms_action", json: "true")
        let base = ["--base-url", service.baseURL.absoluteString]

        var (status, out, _) = try run(["numbers", "account"] + base)
        XCTAssertEqual(status, 0)
        XCTAssertEqual(out, "balance: 12345 satoshis\n")
        (status, out, _) = try run(["numbers", "show", "+1234567890", "--json"] + base)
        XCTAssertEqual(status, 0)
        let shown = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        XCTAssertEqual(shown["e164"] as? String, "+1234567890")
        XCTAssertTrue(shown["sms_forwarded_to"] == nil || shown["sms_forwarded_to"] is NSNull)
        (status, out, _) = try run(["numbers", "sms-action", "+1234567890", "webhook", "https://gw.example.org/sms/webhook/x"] + base)
        XCTAssertEqual(status, 0, out)
        XCTAssertEqual(service.requests.last?.authorization, "Bearer tok_cli_0123456789")
    }

    func testBadInputIsOneLineAndANonZeroExit() async throws {
        let service = FakeService()
        try await service.start()
        defer { service.stop() }
        service.reply("GET", "/api/v1/account", status: 401, json: #"{"error": "token revoked"}"#)
        let base = ["--base-url", service.baseURL.absoluteString]
        for (arguments, environment, message) in [
            (["numbers", "show", "12345"] + base, true, "error: e164: \"12345\" is not an E.164 number"),
            (["numbers", "groups", "tollfree"] + base, true, "error: group_type"),
            (["numbers", "account"] + base, true, "error: the service refused the API token (HTTP 401): token revoked"),
            (["numbers", "account"] + base, false, "no API token"),
        ] {
            let (status, out, err) = try run(arguments, token: environment)
            XCTAssertNotEqual(status, 0, "\(arguments)")
            XCTAssertTrue(err.contains(message), "\(arguments): \(out) \(err)")
            XCTAssertFalse(err.contains("Fatal error"), err)
            XCTAssertFalse(err.contains("tok_cli"), "the token is never printed")
        }
    }

    private func run(_ arguments: [String], token: Bool = true) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = Bundle.main.bundleURL.appendingPathComponent("linecard")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["LINECARD_NUMBERS_TOKEN"] = token ? "tok_cli_0123456789" : nil
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
