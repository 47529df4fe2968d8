import Foundation
import Linecard
import LinecardDSP
import LinecardEngine
import SimulatedCard
import XCTest

/// The rules of dtmf-player.txt that a failing or refused play job meets.
final class DTMFPlayerRuleTests: XCTestCase {
    func answeredCall(_ bench: Bench, port: Int = 0) async throws -> CallChannel {
        let channel = bench.channel(port)
        let state = try await channel.call(to: "201")
        XCTAssertEqual(state, .answered)
        return channel
    }

    func testAPlayTheCardRefusesEndsInError() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = try await answeredCall(bench)
        // The port's pipeline is taken away under the call: the engine refuses the digits.
        try bench.card.engine.close(port: 0)
        let cause = try await channel.dtmfPlayer.play("12")
        XCTAssertEqual(cause, .error)
        XCTAssertEqual(channel.dtmfPlayer.state, .error, "a play job failed")
        XCTAssertEqual(channel.dtmfPlayer.cause, .error)
    }

    func testDigitsTheCardNeverFinishesEndInTimeout() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = try await answeredCall(bench)
        let player = channel.dtmfPlayer
        async let played = player.play("1234")
        // Once the far end hears the first digit the engine has taken the string; the
        // pipeline is then removed before it has sent the rest.
        // Waited for in line time: a loop that only yields would keep line time still.
        var waited = 0
        while heard(bench.notes(), port: 0).isEmpty, waited < 1000 {
            await bench.pass(0.01)
            waited += 1
        }
        try bench.card.engine.close(port: 0)
        let cause = try await played
        XCTAssertEqual(cause, .timeout)
        XCTAssertEqual(player.state, .error, "TIMEOUT is a failed job: \"play failed because a timer has expired\"")
        XCTAssertEqual(player.cause, .timeout)
    }

    func testThePortGoingOutOfServiceMidPlayEndsInError() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = try await answeredCall(bench)
        let player = channel.dtmfPlayer
        async let played = player.play("1,,,,,,2")
        while player.state != .playing { await Task.yield() }
        try bench.sim.removeDevice()
        let cause = try await played
        XCTAssertEqual(cause, .error)
        XCTAssertEqual(player.state, .error)
        XCTAssertEqual(channel.state, .idle)
        XCTAssertEqual(channel.cause, .outOfOrder)
    }

    func testAFarEndHangupIsNotAFailure() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "202")
        XCTAssertEqual(state, .answered)
        await bench.pass(4.6)
        let cause = try await channel.dtmfPlayer.play("1,,,,,,2")
        XCTAssertEqual(cause, .hangup)
        XCTAssertEqual(channel.dtmfPlayer.state, .idle)
    }

    func testAlreadyPlayingIsAnError() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = try await answeredCall(bench)
        let player = channel.dtmfPlayer
        async let first = player.play("1,,2")
        while player.state != .playing { await Task.yield() }
        await XCTAssertThrowsErrorAsync(try await player.play("3")) {
            XCTAssertEqual($0 as? CallError, .error("a DTMF play is already in progress on port 0"))
        }
        let cause = try await first
        XCTAssertEqual(cause, .normal, "the running job is not disturbed")
        XCTAssertEqual(player.state, .idle)
        await bench.pass(0.5)
        XCTAssertEqual(heard(bench.notes(), port: 0), "12")
        await channel.hangUp()
    }

    func testAWaitingChannelGetsErrorNotHangup() async throws {
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(2)
        let document = try FaxToSend(FaxTests.document(pages: 1, name: "w.tif").0)
        async let waited = channel.waitForIncomingCall(timeout: .seconds(30))
        while channel.state != .waiting { await Task.yield() }
        // Line time stands still while the checks run, so the wait cannot end under them.
        let hold = bench.card.engine.holdClock()
        await XCTAssertThrowsErrorAsync(try await channel.dtmfPlayer.play("1")) {
            guard case .error(let message)? = $0 as? CallError else { return XCTFail("\($0)") }
            XCTAssertTrue(message.contains("WAITING"), message)
        }
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.send(document)) {
            XCTAssertTrue("\($0)".hasPrefix("Error"), "\($0)")
        }
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.stop()) { XCTAssertTrue("\($0)".hasPrefix("Error"), "\($0)") }
        hold.cancel()
        _ = try await waited
        XCTAssertEqual(channel.state, .idle)
        await XCTAssertThrowsErrorAsync(try await channel.dtmfPlayer.play("1")) { XCTAssertTrue("\($0)".hasPrefix("Hangup"), "\($0)") }
    }

    func testAFilePlayOrAFaxJobIsAnExternalAudioSource() async throws {
        let (document, _) = try FaxTests.document(pages: 1, name: "x.tif")
        let bench = try Bench()
        defer { bench.card.shutdown() }
        let channel = try await answeredCall(bench)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("linecard-dtmf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("tone.wav").path
        try WAVFile.write(ToneGenerator.render(.continuous(600, level: -15), milliseconds: 3000), to: file)
        let files = channel.filePlayer
        async let played = files.play(file)
        while files.state != .playing { await Task.yield() }
        await XCTAssertThrowsErrorAsync(try await channel.dtmfPlayer.play("1")) {
            XCTAssertTrue("\($0)".contains("external audio source (a file is playing)"), "\($0)")
        }
        XCTAssertTrue(files.stop())
        _ = try await played
        XCTAssertEqual(channel.dtmfPlayer.state, .idle, "a refused call leaves no job behind")

        let fax = try await bench.channel(1).call(to: "800")
        XCTAssertEqual(fax, .answered)
        let started = try await bench.channel(1).faxSender.start(try FaxToSend(document))
        XCTAssertTrue(started)
        await XCTAssertThrowsErrorAsync(try await bench.channel(1).dtmfPlayer.play("1")) {
            XCTAssertTrue("\($0)".contains("a fax job is SENDING"), "\($0)")
        }
        _ = try await bench.channel(1).faxSender.stop()
        await bench.channel(1).hangUp()
        await channel.hangUp()
    }
}
