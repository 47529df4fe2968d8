import Foundation
import Linecard
import XCTest

/// The reference client (ported to Python 3, unchanged otherwise) against a running gateway
/// on the simulated card.
final class SimpleCallInterfaceTests: XCTestCase {
    func testCallTextToAPersonWhoAnswersGoesFromPendingToMade() async throws {
        let gateway = try RunningGateway()
        let first = try gateway.python("callTextAndStatus", "200", "Hello, this is the gateway test. Goodbye.", "0") as? [String]
        let id = try XCTUnwrap(first?.first)
        XCTAssertFalse(id.isEmpty)
        XCTAssertEqual(first?.last, "", "the status of a call not yet made is empty")
        let statuses = try gateway.python("poll", id, "30") as? [String]
        XCTAssertEqual(statuses?.last, "Call Made", "\(statuses ?? []) \(gateway.logText())")
        let body = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": id]).body
        XCTAssertTrue(body.hasPrefix("[0^null^made^"), body)
        XCTAssertTrue(body.contains("^Call succeeded^^^^^"), body)
        // The speech was rendered for the line before the call: an 8 kHz file of some seconds.
        let audio = gateway.data.appendingPathComponent("data/audio/\(id).wav").path
        let samples = try WAVFile.read(audio)
        XCTAssertGreaterThan(samples.count, 8000, "at least a second of speech")
    }

    /// The gateway on hardware: here an ALSA clear line (alsa-lib's null device), which is
    /// connected at once, so the message is spoken and the call is made.
    func testTheGatewayCallsOnAnALSALine() async throws {
        let gateway = try RunningGateway(settings: ["card": ["kind": "alsa", "devices": ["null"]]])
        let first = try gateway.python("callTextAndStatus", "200", "Hello over a sound card.", "0") as? [String]
        let id = try XCTUnwrap(first?.first)
        let statuses = try gateway.python("poll", id, "30") as? [String]
        XCTAssertEqual(statuses?.last, "Call Made", "\(statuses ?? []) \(gateway.logText())")
        let lines = try await gateway.json("GET", "/api/v1/lines").body
        XCTAssertTrue(lines.contains("null"), lines)
    }

    /// The gateway on a simulated E1: each B-channel is a line, and a refusal's reason
    /// names its Q.850 cause.
    func testTheGatewayCallsOnASimulatedE1() async throws {
        let gateway = try RunningGateway(settings: ["card": ["isdn": "e1", "country": "uk"], "retry": ["attempts": 1, "interval": 0.3]])
        let busy = try XCTUnwrap(gateway.python("callText", "300", "You will not hear this.", "0") as? String)
        var statuses = try XCTUnwrap(gateway.python("poll", busy, "30") as? [String])
        XCTAssertEqual(statuses.last, "Call Failed", "\(statuses) \(gateway.logText())")
        let body = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": busy]).body
        XCTAssertTrue(body.contains("Line Busy (cause 17: user busy)"), body)

        let made = try XCTUnwrap(gateway.python("callText", "200", "Hello over ISDN.", "0") as? String)
        statuses = try XCTUnwrap(gateway.python("poll", made, "40") as? [String])
        XCTAssertEqual(statuses.last, "Call Made", "\(statuses) \(gateway.logText())")

        let listing = try await gateway.json("GET", "/api/v1/lines").body
        let lines = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(listing.utf8)) as? [[String: Any]])
        XCTAssertEqual(lines.count, 30)
        XCTAssertEqual(lines.first?["span"] as? String, "sim0/e1")
        XCTAssertEqual(lines.first?["dChannelUp"] as? Bool, true)
        let metrics = try await gateway.request("GET", "/metrics").body
        XCTAssertTrue(metrics.contains(#"linecard_isdn_dchannel_up{span="sim0/e1"} 1"#), metrics)
    }

    func testAnAnsweringMachineGetsTheMessageAfterItsBeep() async throws {
        let gateway = try RunningGateway()
        let id = try XCTUnwrap(gateway.python("callText", "700", "Please call the office back.", "0") as? String)
        XCTAssertEqual((try gateway.python("poll", id, "60") as? [String])?.last, "Call Made")
        let body = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": id]).body
        XCTAssertTrue(body.contains("^made^") && body.contains("^Message left on answering machine^"), body)
    }

    func testBusyNumberRetriesThenFails() async throws {
        let gateway = try RunningGateway(settings: ["retry": ["attempts": 2, "interval": 1.0]])
        let id = try XCTUnwrap(gateway.python("callText", "300", "You will not hear this.", "0") as? String)
        let statuses = try XCTUnwrap(gateway.python("poll", id, "30") as? [String])
        XCTAssertTrue(statuses.contains("Call Will Retry"), "\(statuses)")
        XCTAssertEqual(statuses.last, "Call Failed")
        let body = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": id]).body
        XCTAssertTrue(body.contains("^retry^") && body.contains("^failed^") && body.contains("Line Busy"), body)
        let call = try await gateway.call(id)
        XCTAssertEqual((call?["attempts"] as? [Any])?.count, 2)
    }

    func testCallAudioWithAGoodAndABadWAV() async throws {
        let gateway = try RunningGateway()
        let good = gateway.files.appendingPathComponent("hello.wav").path
        try WAVFile.write((0..<16_000).map { Int16(3000 * sin(Double($0) * 2 * .pi * 300 / 8000)) }, to: good, encoding: .alaw)
        let bad = gateway.files.appendingPathComponent("bad.wav").path
        try Data("this is not a wave file".utf8).write(to: URL(fileURLWithPath: bad))
        let missing = gateway.files.appendingPathComponent("missing.wav").path

        let goodID = try XCTUnwrap(gateway.python("callAudio", "201", good, "0") as? String)
        let badID = try XCTUnwrap(gateway.python("callAudio", "201", bad, "0") as? String)
        let missingID = try XCTUnwrap(gateway.python("callAudio", "201", missing, "0") as? String)
        XCTAssertEqual((try gateway.python("poll", goodID, "30") as? [String])?.last, "Call Made")
        XCTAssertEqual((try gateway.python("poll", badID, "30") as? [String])?.last, "Call Failed")
        XCTAssertEqual((try gateway.python("poll", missingID, "30") as? [String])?.last, "Call Failed")
        let badStatus = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": badID]).body
        XCTAssertTrue(badStatus.contains("cannot be played") && badStatus.contains("bad.wav"), badStatus)
        let missingStatus = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": missingID]).body
        XCTAssertTrue(missingStatus.contains("does not exist"), missingStatus)
        // A bad file fails its own request once, without a retry, and the gateway goes on.
        let badAttempts = ((try await gateway.call(badID))?["attempts"] as? [Any])?.count
        XCTAssertEqual(badAttempts, 1)
        let health = try await gateway.json("GET", "/health")
        XCTAssertEqual(health.status, 200)
    }

    func testCallRemoveCancelsAPendingCallAndSelfDeleteRemovesAFinishedOne() async throws {
        let gateway = try RunningGateway()
        // 400 rings without an answer: remove it while it rings.
        let ringing = try XCTUnwrap(gateway.python("callText", "400", "Nobody hears this.", "0") as? String)
        for _ in 0..<200 {
            if (try await gateway.call(ringing))?["status"] as? String == "calling" { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try gateway.python("callRemove", ringing)
        let afterRemove = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": ringing]).body
        XCTAssertTrue(afterRemove.hasPrefix("ERROR: no such call record: \(ringing)"), afterRemove)
        XCTAssertEqual(try gateway.python("callStatus", ringing) as? String, "")
        // The line is freed: no call stays up for a removed request.
        var idle = false
        for _ in 0..<200 where !idle {
            let lines = try await gateway.json("GET", "/api/v1/lines").json as? [[String: Any]] ?? []
            idle = lines.allSatisfy { $0["state"] as? String == "IDLE" }
            if !idle { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertTrue(idle, "the removed request's call was hung up")
        let again = try await gateway.post("/ocall/callremoveHandler.jsp", ["reqid": ringing]).body
        XCTAssertTrue(again.hasPrefix("ERROR: no such call record"), again)

        let selfDeleting = try XCTUnwrap(gateway.python("callText", "201", "This record removes itself.", "1") as? String)
        var gone = false
        for _ in 0..<1500 where !gone {
            gone = try await gateway.call(selfDeleting) == nil
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertTrue(gone, "a selfdelete=1 record is removed after its call")
        let log = gateway.logText()
        XCTAssertTrue(log.contains("request \(selfDeleting) attempt 1: made"), log)
    }

    func testCallTillConfirmCallsTheListUntilTheSecondPersonEntersTheCode() async throws {
        let gateway = try RunningGateway()
        let list = gateway.files.appendingPathComponent("escalation.voc").path
        // 202 answers and hangs up without a code; 200 presses 1234.
        try "# on call tonight\nDuty Engineer, 202\nSupervisor, 200\n".write(toFile: list, atomically: true, encoding: .utf8)
        let wav = gateway.files.appendingPathComponent("alert.wav").path
        try WAVFile.write([Int16](repeating: 0, count: 16_000), to: wav)
        let marker = gateway.data.appendingPathComponent("vcast-ran").path
        let program = "/bin/sh -c 'touch \(marker)'"
        XCTAssertTrue(try gateway.python("callTillConfirm", program, list, wav, "1234") is NSNull, "callTillConfirm returns None")
        // The reference client reads no id back; the JSON interface lists the request.
        let calls = try await gateway.json("GET", "/api/v1/calls").json as? [[String: Any]]
        let id = try XCTUnwrap(calls?.first?["id"] as? Int64 ?? (calls?.first?["id"] as? NSNumber)?.int64Value)
        let call = try await gateway.waitUntilFinished(String(id))
        XCTAssertEqual(call?["status"] as? String, "made", "\(call ?? [:]) \(gateway.logText())")
        XCTAssertEqual(call?["reason"] as? String, "Confirmed by 200")
        let attempts = call?["attempts"] as? [[String: Any]] ?? []
        XCTAssertEqual(attempts.map { $0["dialled"] as? String }, ["202", "200"])
        XCTAssertEqual(attempts.first?["outcome"] as? String, "retry")
        XCTAssertTrue((call?["warnings"] as? [String])?.first?.hasPrefix("startexec ignored") == true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the program named in the request must never run")
        let status = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": String(id)]).body
        XCTAssertTrue(status.contains("^retry^") && status.contains("^made^"), status)
        XCTAssertEqual(try gateway.python("callStatus", String(id)) as? String, "Call Made")
    }

    func testStartexecIsIgnoredWithAWarningInTheResponse() async throws {
        let gateway = try RunningGateway()
        let wav = gateway.files.appendingPathComponent("m.wav").path
        try WAVFile.write([Int16](repeating: 0, count: 800), to: wav)
        let reply = try await gateway.post("/ocall/callreqHandler.jsp", [
            "info": "x", "phoneno": "1111111", "firstocc": "10", "selfdelete": "0",
            "startexec": "/usr/bin/touch", "cmdline": "-numbers \"201\" -confirmcode 9 -wavfile \"\(wav)\""])
        XCTAssertEqual(reply.status, 200)
        XCTAssertTrue(reply.body.contains("[ReqId="), reply.body)
        XCTAssertTrue(reply.body.contains("Warning: startexec ignored: this gateway never runs a program"), reply.body)
        XCTAssertTrue(gateway.logText().contains("startexec ignored"))
    }

    /// Clients on Windows send text in their code page, escaped or not, and some speak HTTP/1.0.
    func testTextInWindows1252AndHTTP10ClientsAreUnderstood() async throws {
        let gateway = try RunningGateway()
        // Escaped bytes of Windows-1252 ("Café crème – 5 €"), as a client using its default charset sends them.
        let escaped = try await gateway.request("POST", "/ocall/callreqHandler.jsp",
                                                body: Data("phoneno=201&txt=Caf%E9+cr%E8me+%96+5+%80&firstocc=60".utf8),
                                                contentType: "application/x-www-form-urlencoded")
        XCTAssertEqual(escaped.status, 200, escaped.body)
        let id = try XCTUnwrap(HostileClientTests.reqID(escaped.body))
        let message = try await gateway.call(String(id))?["message"] as? [String: Any]
        XCTAssertEqual(message?["text"] as? String, "Café crème – 5 €")
        // Unescaped ISO-8859-1 bytes in the body, over HTTP/1.0.
        var body = Data("phoneno=201&firstocc=60&txt=Gr".utf8)
        body.append(contentsOf: [0xFC, 0xDF, 0x65])  // "Grüße" without the final letters' escape
        let raw = "POST /ocall/callreqHandler.jsp HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.count)\r\n\r\n"
        let connection = try RawConnection(port: gateway.port)
        connection.send(raw)
        body.withUnsafeBytes { _ = Glibc.send(connection.descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let reply = connection.read(seconds: 5)
        XCTAssertTrue(reply.text.contains("[ReqId="), reply.text)
        XCTAssertTrue(reply.closed, "an HTTP/1.0 connection is closed after the answer")
        let rawID = try XCTUnwrap(HostileClientTests.reqID(reply.text))
        let rawMessage = try await gateway.call(String(rawID))?["message"] as? [String: Any]
        XCTAssertEqual(rawMessage?["text"] as? String, "Grüße")
    }

    func testMalformedRequestsGet4xxWithAReason() async throws {
        let gateway = try RunningGateway(settings: ["limits": ["maxTextLength": 50, "maxRequestBytes": 2048]])
        let cases: [([String: String], Int, String)] = [
            (["txt": "hello"], 400, "phoneno is missing"),
            (["phoneno": "555-ABC", "txt": "hello"], 400, "has \"A\""),
            (["phoneno": "--", "txt": "hello"], 400, "has no digits"),
            (["phoneno": "200"], 400, "the message is missing"),
            (["phoneno": "200", "txt": "hello", "audiofile": "/tmp/x.wav"], 400, "not both"),
            (["phoneno": "200", "txt": String(repeating: "a", count: 51)], 400, "at most 50"),
            (["phoneno": "200", "txt": "hi", "firstocc": "soon"], 400, "firstocc"),
            (["phoneno": "200", "txt": "hi", "selfdelete": "maybe"], 400, "selfdelete"),
            (["phoneno": "200", "startvxml": "/x.vxml"], 400, "not supported"),
            (["phoneno": "1", "startexec": "vcast.exe", "cmdline": "\"list.voc\" -wavfile \"a.wav\""], 400, "-confirmcode"),
            (["phoneno": "1", "cmdline": "\"missing.voc\" -confirmcode 1 -wavfile \"a.wav\""], 400, "the call list missing.voc does not exist"),
            (["phoneno": "1", "cmdline": "\"/nonexistent/list.voc\" -confirmcode 1 -wavfile \"a.wav\""], 403, "is outside the folders"),
        ]
        for (form, status, reason) in cases {
            let reply = try await gateway.post("/ocall/callreqHandler.jsp", form)
            XCTAssertEqual(reply.status, status, "\(form): \(reply.body)")
            XCTAssertTrue(reply.body.hasPrefix("ERROR: ") && reply.body.contains(reason), "\(form): \(reply.body)")
        }
        let bigBody = Data(("phoneno=200&txt=" + String(repeating: "a", count: 4096)).utf8)
        let big = try await gateway.request("POST", "/ocall/callreqHandler.jsp", body: bigBody, contentType: "application/x-www-form-urlencoded")
        XCTAssertEqual(big.status, 413, big.body)
        let badEscape = try await gateway.request("POST", "/ocall/callreqHandler.jsp", body: Data("phoneno=200&txt=%ZZ".utf8),
                                                  contentType: "application/x-www-form-urlencoded")
        XCTAssertEqual(badEscape.status, 400, badEscape.body)
        let wrongType = try await gateway.request("POST", "/ocall/callreqHandler.jsp", body: Data("{}".utf8), contentType: "application/json")
        XCTAssertEqual(wrongType.status, 415, wrongType.body)
        let noID = try await gateway.post("/ocall/callstatusHandler.jsp", [:])
        XCTAssertEqual(noID.status, 400)
        let unknown = try await gateway.post("/ocall/callstatusHandler.jsp", ["reqid": "12345"])
        XCTAssertEqual(unknown.body, "ERROR: no such call record: 12345\n")
        let badJSON = try await gateway.request("POST", "/api/v1/calls", body: Data("{\"number\": 5}".utf8), contentType: "application/json")
        XCTAssertEqual(badJSON.status, 400, badJSON.body)
        XCTAssertTrue(badJSON.body.contains("wrong type"), badJSON.body)
        // GET works as the Perl and PHP clients use it; nothing above was queued.
        let list = try await gateway.request("GET", "/ocall/callstatusHandler.jsp?reqid=1")
        XCTAssertEqual(list.status, 200)
        let queued = try await gateway.json("GET", "/api/v1/calls").json as? [Any]
        XCTAssertEqual(queued?.count, 0)
        // The gateway is still serving.
        let health = try await gateway.json("GET", "/health").status
        XCTAssertEqual(health, 200)
    }
}
