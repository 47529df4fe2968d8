import Foundation
import Linecard
import LinecardGateway
import XCTest

/// Files a request names that are broken, huge, outside the gateway's folders or swapped
/// under it: each fails its own request with a reason, the gateway stays up, restarts cleanly,
/// and tells nothing about files it may not read.
final class HostileFileTests: XCTestCase {
    /// A WAVE_FORMAT_EXTENSIBLE header whose fmt chunk says 40 bytes and whose file ends 20
    /// bytes into it: 40 bytes in all.
    static let cutShortWAV: Data = {
        var d = Data("RIFF".utf8)
        func u16(_ v: Int) { d.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
        u32(32); d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(40)
        u16(0xFFFE); u16(1); u32(8000); u32(16000); u16(2); u16(16); u16(22); u16(16)
        return d.prefix(40)
    }()

    /// A valid header over 2 GiB of samples, as a sparse file.
    static func hugeWAV(at path: String) throws {
        let size = (1 << 31) - 44
        var d = Data("RIFF".utf8)
        func u16(_ v: Int) { d.append(contentsOf: [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)]) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
        u32(size + 36); d.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16)
        u16(1); u16(1); u32(8000); u32(16000); u16(2); u16(16)
        d.append(contentsOf: Array("data".utf8)); u32(size)
        try d.write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(truncate(path, off_t(size + 44)), 0)
    }

    func testACutShortWAVFailsItsRequestOnceAndTheGatewayStaysUpAndRestarts() async throws {
        let gateway = try RunningGateway()
        let path = gateway.files.appendingPathComponent("short.wav").path
        try Self.cutShortWAV.write(to: URL(fileURLWithPath: path))
        let id = try XCTUnwrap(gateway.python("callAudio", "201", path, "0") as? String)
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "failed")
        XCTAssertTrue((call?["reason"] as? String)?.contains("short.wav cannot be played") == true, "\(call ?? [:])")
        XCTAssertEqual((call?["attempts"] as? [Any])?.count, 1)
        let health = try await gateway.json("GET", "/health").status
        XCTAssertEqual(health, 200)
        // Restarted on the same folder: nothing is retried, nothing crashes.
        gateway.stop()
        try gateway.start()
        try await Task.sleep(for: .milliseconds(500))
        let again = try await gateway.call(id)
        XCTAssertEqual(again?["status"] as? String, "failed")
        XCTAssertEqual((again?["attempts"] as? [Any])?.count, 1)
        XCTAssertFalse(gateway.logText().contains("Fatal error"), gateway.logText())
    }

    func testARequestThatKillsTheGatewayWhilePreparingIsFailedAfterTheSecondDeath() async throws {
        let gateway = try RunningGateway()
        gateway.stop()
        // What a gateway that died inside the preparation leaves behind: an attempt recorded
        // as preparing. After one such death the request is tried again; after two it fails.
        let database = gateway.data.appendingPathComponent("data/calls.sqlite").path
        do {
            let queue = try SQLiteCallQueue(path: database, policy: RetryPolicy(attempts: 3, interval: 1))
            _ = try await queue.submit(NewCallRequest(number: try DialString("201"), message: .audioFile("deadly.wav"),
                                                      deadline: Date().addingTimeInterval(3600)))
            let claim = try await queue.claimNext(line: 0) { _ in false }
            XCTAssertEqual(claim?.preparing, true)
        }
        do {
            let queue = try SQLiteCallQueue(path: database, policy: RetryPolicy(attempts: 3, interval: 1))
            let record = try await queue.list().first
            XCTAssertEqual(record?.status, .retry, "one death: tried again")
            XCTAssertEqual(record?.attempts.last?.outcome, .interrupted)
            let claim = try await queue.claimNext(line: 0, now: Date().addingTimeInterval(5)) { _ in false }
            XCTAssertEqual(claim?.attempt, 2)
        }
        try gateway.start()
        let calls = try await gateway.json("GET", "/api/v1/calls").json as? [[String: Any]] ?? []
        XCTAssertEqual(calls.count, 1)
        XCTAssertEqual(calls.first?["status"] as? String, "failed", "\(calls)")
        XCTAssertTrue((calls.first?["reason"] as? String)?.contains("stopped while preparing this request's message twice") == true, "\(calls)")
        XCTAssertEqual((calls.first?["attempts"] as? [Any])?.count, 2, "not tried a third time")
    }

    func testAWAVOfTwoGigabytesIsRefusedWithoutReadingIt() async throws {
        let gateway = try RunningGateway()
        let path = gateway.files.appendingPathComponent("huge.wav").path
        try Self.hugeWAV(at: path)
        let id = try XCTUnwrap(gateway.python("callAudio", "201", path, "0") as? String)
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "failed")
        XCTAssertTrue((call?["reason"] as? String)?.contains("at most 600 s is read") == true, "\(call ?? [:])")
        let status = try String(contentsOfFile: "/proc/\(gateway.pid)/status", encoding: .utf8)
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        let kilobytes = Int(rss.split(separator: " ").dropFirst().first ?? "") ?? 0
        XCTAssertLessThan(kilobytes, 1_000_000, "the gateway's peak memory: \(rss)")
    }

    func testFilesOutsideTheFilesFolderAreRefusedAlikeAndNeverQuoted() async throws {
        let gateway = try RunningGateway()
        let secret = gateway.data.appendingPathComponent("secret.txt").path
        try "root:*:20228:0:99999:7:::\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let missing = gateway.data.appendingPathComponent("missing.wav").path
        var answers: [String] = []
        for path in [secret, missing] {
            let reply = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "audiofile": path])
            XCTAssertEqual(reply.status, 403, reply.body)
            answers.append(reply.body.replacingOccurrences(of: path, with: "PATH"))
        }
        XCTAssertEqual(answers[0], answers[1], "an outside path gets the same answer whether it exists or not")
        // Through a link or `..` from inside the folder.
        let link = gateway.files.appendingPathComponent("link.wav").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: secret)
        for path in [link, gateway.files.path + "/../secret.txt", "../secret.txt"] {
            let reply = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "audiofile": path])
            XCTAssertEqual(reply.status, 403, "\(path): \(reply.body)")
        }
        // A call list outside, and one inside with a bad line: neither is quoted back.
        for list in [secret, "inside.voc"] {
            if list == "inside.voc" {
                try "root:*:20228:0:99999:7:::\n".write(to: gateway.files.appendingPathComponent(list), atomically: true, encoding: .utf8)
            }
            let reply = try await gateway.post("/ocall/callreqHandler.jsp", [
                "phoneno": "1", "cmdline": "\"\(list)\" -confirmcode 1 -wavfile \"a.wav\""])
            XCTAssertGreaterThanOrEqual(reply.status, 400, reply.body)
            XCTAssertFalse(reply.body.contains("root"), reply.body)
        }
        // A FIFO in the folder is refused at once, not waited on.
        let fifo = gateway.files.appendingPathComponent("pipe.wav").path
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        let reply = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "audiofile": fifo])
        XCTAssertEqual(reply.status, 400, reply.body)
        XCTAssertTrue(reply.body.contains("not a regular file"), reply.body)
        // A Windows path is told where the file must be.
        let windows = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "audiofile": "C:\\Program Files\\Voicent\\hello.wav"])
        XCTAssertEqual(windows.status, 400, windows.body)
        XCTAssertTrue(windows.body.contains("must be on the gateway host"), windows.body)
        // A relative path is taken from the files folder.
        try WAVFile.write([Int16](repeating: 0, count: 800), to: gateway.files.appendingPathComponent("quiet.wav").path)
        let relative = try await gateway.post("/ocall/callreqHandler.jsp", ["phoneno": "201", "audiofile": "quiet.wav"])
        XCTAssertEqual(relative.status, 200, relative.body)
        let health = try await gateway.json("GET", "/health").status
        XCTAssertEqual(health, 200)
    }

    func testALinkSwappedInAfterTheRequestIsCaughtWhenTheFileIsRead() async throws {
        // One line, kept busy by a call that rings unanswered (in real time), so the request waits.
        let gateway = try RunningGateway(settings: ["lines": [0], "card": ["clock": "paced"]])
        let busy = try XCTUnwrap(gateway.python("callText", "400", "Ringing on.", "0") as? String)
        for _ in 0..<200 {
            if (try await gateway.call(busy))?["status"] as? String == "calling" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let message = gateway.files.appendingPathComponent("message.wav").path
        try WAVFile.write([Int16](repeating: 0, count: 8000), to: message)
        let id = try XCTUnwrap(gateway.python("callAudio", "201", message, "0") as? String)
        // Swapped for a link to a playable file outside the folder before the call is due.
        let outside = gateway.data.appendingPathComponent("outside.wav").path
        try WAVFile.write([Int16](repeating: 1000, count: 8000), to: outside)
        try FileManager.default.removeItem(atPath: message)
        try FileManager.default.createSymbolicLink(atPath: message, withDestinationPath: outside)
        _ = try gateway.python("callRemove", busy)
        let call = try await gateway.waitUntilFinished(id)
        XCTAssertEqual(call?["status"] as? String, "failed", "\(call ?? [:])")
        XCTAssertTrue((call?["reason"] as? String)?.contains("outside the folders") == true, "\(call ?? [:])")
    }
}
