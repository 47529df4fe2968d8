import Foundation
import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

/// fax-sender.txt's rules for `start`, `FaxDetails` and the causes a job ends with.
final class FaxReferenceRuleTests: XCTestCase {
    /// 810 is a line with nothing on it that ever answers in fax; 811 a machine that goes
    /// dead 15 s after answering (in the middle of the pages).
    func bench() throws -> Bench {
        var exchange = ExchangeConfiguration()
        exchange.routes["810"] = Route(.faxMachine(FaxMachine(fallsSilentAfterMilliseconds: 0)))
        exchange.routes["811"] = Route(.faxMachine(FaxMachine(fallsSilentAfterMilliseconds: 15_000)))
        return try Bench(exchange: exchange)
    }

    func testStartBlocksUntilTransmissionHasBegunAndTheLoopRunsOncePerPage() async throws {
        let (path, _) = try FaxTests.document(pages: 3, name: "start-3.tif")
        let bench = try bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "800")
        XCTAssertEqual(state, .answered)
        let started = try await channel.faxSender.start(filename: path)
        XCTAssertTrue(started)
        XCTAssertEqual(channel.faxSender.state, .sending)
        XCTAssertFalse(channel.faxSender.details.negotiated.isEmpty, "the first T.30 messages were exchanged before start returned")
        XCTAssertEqual(channel.faxSender.details.pages, 0)
        var seen: [Int] = []
        while !channel.faxSender.details.lastPage {
            seen.append(try await channel.faxSender.waitForNextPage())
            if seen.count > 5 { break }
        }
        XCTAssertEqual(seen, [1, 2, 3], "one wait per page, as in the reference's loop")
        let cause = await channel.faxSender.waitUntilFinished()
        XCTAssertEqual(cause, .normal, channel.faxSender.details.rawCauseDescription)
        XCTAssertEqual(channel.faxSender.details.rawCause, "", "no fax error code after a NORMAL job")
        await channel.hangUp()
    }

    func testStartReturnsFalseOnItsTimeoutAndTheJobEndsAsTimeout() async throws {
        let (path, _) = try FaxTests.document(pages: 1, name: "silent.tif")
        let bench = try bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "810")
        XCTAssertEqual(state, .answered)
        let start = bench.card.engine.lineTime
        let started = try await channel.faxSender.start(try FaxToSend(path), timeout: .seconds(10))
        XCTAssertFalse(started)
        // It gives up at its own timeout (the abort takes a moment of line time more), not at
        // T.30's 60 s.
        let waited = seconds(bench.card.engine.lineTime - start)
        XCTAssertGreaterThanOrEqual(waited, 9.9)
        XCTAssertLessThan(waited, 30)
        XCTAssertEqual(channel.faxSender.cause, .timeout)
        XCTAssertEqual(channel.faxSender.state, .error)
        XCTAssertEqual(channel.faxSender.details.rawCause, "", "T.30 reported no error: start gave up")

        // With the default timeout T.30's own T0 (60 s) ends it first: nothing answered in fax.
        let again = try await channel.faxSender.start(filename: path)
        XCTAssertFalse(again)
        XCTAssertEqual(channel.faxSender.cause, .notFax)
        XCTAssertNotNil(Int(channel.faxSender.details.rawCause), "NOTFAX carries the fax error code: \(channel.faxSender.details)")
        XCTAssertFalse(channel.faxSender.details.rawCauseDescription.isEmpty)
        await channel.hangUp()
    }

    func testAMachineThatStopsAnsweringEndsTheJobWithTimeout() async throws {
        let (path, _) = try FaxTests.document(pages: 3, name: "dead.tif")
        let bench = try bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        let state = try await channel.call(to: "811")
        XCTAssertEqual(state, .answered)
        let started = try await channel.faxSender.start(try FaxToSend(path))
        XCTAssertTrue(started)
        let cause = await channel.faxSender.waitUntilFinished()
        XCTAssertEqual(cause, .timeout, "\(channel.faxSender.details.rawCause): \(channel.faxSender.details.rawCauseDescription)")
        XCTAssertEqual(channel.faxSender.state, .error)
        XCTAssertNotNil(Int(channel.faxSender.details.rawCause))
        XCTAssertTrue(channel.faxSender.details.lastPage)
        await channel.hangUp()
    }

    func testFaxIdentitiesAreUniqueAcrossChannelsAndCards() async throws {
        let (path, _) = try FaxTests.document(pages: 1, name: "ids.tif")
        var ids: [Int] = []
        for _ in 0..<2 {
            let bench = try bench()
            defer { bench.card.shutdown() }
            for port in 0..<2 {
                let channel = bench.channel(port)
                let state = try await channel.call(to: "800")
                XCTAssertEqual(state, .answered)
                // Refused options end the job at once, but it is still a job with an identity.
                let started = try await channel.faxSender.start(try FaxToSend(path), options: ["v34": "YES"])
                XCTAssertFalse(started)
                ids.append(channel.faxSender.details.id)
                await channel.hangUp()
            }
        }
        XCTAssertEqual(Set(ids).count, 4, "\(ids)")
        XCTAssertEqual(ids, ids.sorted())
    }

    func testAConnectedCallHasAnExternalAudioSource() async throws {
        let (path, _) = try FaxTests.document(pages: 1, name: "connected.tif")
        let bench = try bench()
        defer { bench.card.shutdown() }
        let a = bench.channel(0), b = bench.channel(2)
        let first = try await a.call(to: "200")
        let second = try await b.call(to: "201")
        XCTAssertEqual([first, second], [.answered, .answered])
        XCTAssertTrue(try a.connect(b))
        await XCTAssertThrowsErrorAsync(try await a.faxSender.send(filename: path)) {
            XCTAssertTrue("\($0)".hasPrefix("Error") && "\($0)".contains("external audio source"), "\($0)")
        }
        await XCTAssertThrowsErrorAsync(try await b.faxReceiver.start(to: FaxTests.folder.appendingPathComponent("c.tif").path)) {
            XCTAssertTrue("\($0)".contains("external audio source"), "\($0)")
        }
        XCTAssertEqual(a.faxSender.state, .idle, "a refused job leaves no job behind")
        a.disconnect()
        await a.hangUp()
        await b.hangUp()
    }

    func testWaitsRaiseWhereTheReferenceSays() async throws {
        let (path, _) = try FaxTests.document(pages: 1, name: "waits.tif")
        let bench = try bench()
        defer { bench.card.shutdown() }
        let channel = bench.channel(0)
        // IDLE → Hangup.
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.waitForNegotiatedSettings()) { XCTAssertTrue("\($0)".hasPrefix("Hangup"), "\($0)") }
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.waitForNextPage()) { XCTAssertTrue("\($0)".hasPrefix("Hangup"), "\($0)") }
        let state = try await channel.call(to: "810")
        XCTAssertEqual(state, .answered)
        // Negotiation failing (nothing answered in fax) is `{}`, not an exception.
        let notFax = try await channel.faxSender.send(filename: path)
        XCTAssertEqual(notFax, .notFax)
        let none = try await channel.faxSender.waitForNegotiatedSettings()
        XCTAssertEqual(none, [:])
        // A session error (here the job stopped before negotiation) → Error.
        async let sent = channel.faxSender.send(filename: path)
        while channel.faxSender.state != .sending { await Task.yield() }
        let stopped = try await channel.faxSender.stop()
        XCTAssertTrue(stopped)
        let aborted = try await sent
        XCTAssertEqual(aborted, .aborted)
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.waitForNegotiatedSettings()) {
            XCTAssertTrue("\($0)".hasPrefix("Error") && "\($0)".contains("ABORTED"), "\($0)")
        }
        await XCTAssertThrowsErrorAsync(try await channel.faxSender.waitForNextPage()) { XCTAssertTrue("\($0)".hasPrefix("Error"), "\($0)") }
        await channel.hangUp()
    }
}
