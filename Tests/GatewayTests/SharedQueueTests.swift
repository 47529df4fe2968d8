import Foundation
import Linecard
import Logging
import XCTest
@testable import LinecardGateway

/// The shared call queue against a real PostgreSQL server: boxes that claim at once, a box
/// that dies with calls on its lines, a database that goes away.
final class SharedQueueTests: XCTestCase {
    private var queues: [PostgresCallQueue] = []

    override func tearDown() {
        for queue in queues { queue.close() }
        queues = []
    }

    private func box(_ id: String, on url: String, lease: Double = 30, timeout: Double = 3,
                     policy: RetryPolicy = RetryPolicy(attempts: 3, interval: 0)) throws -> PostgresCallQueue {
        let queue = PostgresCallQueue(address: try PostgresAddress(url), password: nil, gatewayId: id, policy: policy,
                                      leaseSeconds: lease, timeoutSeconds: timeout, logger: Logger(label: "test.\(id)"))
        queues.append(queue)
        return queue
    }

    /// Boxes named `names`, opened in turn on a database of their own.
    private func openBoxes(_ names: String..., lease: Double = 30) async throws -> [PostgresCallQueue] {
        let url = try PostgresServer.shared().createDatabase()
        var opened: [PostgresCallQueue] = []
        for name in names {
            let queue = try box(name, on: url, lease: lease)
            try await queue.open()
            opened.append(queue)
        }
        return opened
    }

    private static func request(_ number: String = "200") throws -> NewCallRequest {
        NewCallRequest(number: try DialString(number), message: .text("hello"), deadline: Date().addingTimeInterval(3600))
    }

    func testBoxesClaimingAtOnceNeverTakeTheSameRequestAndIdsAreUniqueEpochMilliseconds() async throws {
        let boxes = try await openBoxes("a", "b", "c")
        let (a, b, c) = (boxes[0], boxes[1], boxes[2])
        // Accepted on all three at once: ids never collide.
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for i in 0..<60 { group.addTask { try await [a, b, c][i % 3].submit(try Self.request()) } }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        XCTAssertEqual(Set(ids).count, 60)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertTrue(ids.allSatisfy { abs($0 - now) < 60_000 }, "ReqIds are epoch milliseconds: \(ids.sorted().prefix(3))")
        // Twelve lines on three boxes claim until nothing is left.
        let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for line in 0..<12 {
                group.addTask {
                    var mine: [Int64] = []
                    while let claim = try await [a, b, c][line % 3].claimNext(line: line) { mine.append(claim.record.id) }
                    return mine
                }
            }
            return try await group.reduce(into: [Int64]()) { $0 += $1 }
        }
        XCTAssertEqual(claimed.count, 60, "every request claimed once")
        XCTAssertEqual(Set(claimed), Set(ids))
    }

    func testAnExpiredLeaseIsRecoveredByAnotherBoxAndTheDeadBoxCannotFinishIt() async throws {
        let boxes = try await openBoxes("dead", "alive", lease: 1)
        let (dead, alive) = (boxes[0], boxes[1])
        let id = try await alive.submit(try Self.request())
        let claim = try await dead.claimNext(line: 0)
        XCTAssertEqual(claim?.record.id, id)
        // Within the lease nothing is recovered; the dead box never renews it.
        let early = try await alive.recoverExpiredLeases()
        XCTAssertEqual(early, 0)
        try await Task.sleep(for: .milliseconds(1500))
        let recovered = try await alive.recoverExpiredLeases()
        XCTAssertEqual(recovered, 1)
        let record = try await alive.record(id)
        XCTAssertEqual(record?.status, .retry)
        XCTAssertEqual(record?.attempts.first?.outcome, .interrupted)
        XCTAssertTrue(record?.attempts.first?.reason.contains("gateway dead stopped answering") ?? false, record?.reason ?? "")
        // The next attempt goes to the live box, numbered on; the dead box's late report is refused.
        let next = try await alive.claimNext(line: 1)
        XCTAssertEqual(next?.attempt, 2)
        let late = try await dead.finish(id: id, attempt: 1, result: .made("Call succeeded"))
        XCTAssertNil(late)
        let after = try await alive.record(id)
        XCTAssertEqual(after?.attempts.map(\.number), [1, 2])
        XCTAssertEqual(after?.attempts.first?.outcome, .interrupted)
    }

    func testARenewedLeaseIsNotRecovered() async throws {
        let opened = try await openBoxes("calling", "other", lease: 1)
        let (calling, other) = (opened[0], opened[1])
        let id = try await other.submit(try Self.request())
        _ = try await calling.claimNext(line: 0)
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(400))
            try await calling.heartbeat(lines: 1, freeLines: 0)
            let recovered = try await other.recoverExpiredLeases()
            XCTAssertEqual(recovered, 0)
        }
        let status = try await calling.finish(id: id, attempt: 1, result: .made("Call succeeded"))
        XCTAssertEqual(status, .made)
        let boxes = try await other.boxes()
        XCTAssertEqual(boxes.map(\.id), ["calling", "other"])
        XCTAssertEqual(boxes.first?.lines, 1)
    }

    func testARestartedBoxRecoversItsOwnCallsOnlyAfterItsOldLeaseRanOut() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let first = try box("a", on: url, lease: 1), b = try box("b", on: url, lease: 30)
        try await first.open()
        try await b.open()
        let mine = try await first.submit(try Self.request())
        let theirs = try await first.submit(try Self.request())
        _ = try await first.claimNext(line: 0)
        _ = try await b.claimNext(line: 0)
        first.close()
        let started = Date()
        let restarted = try box("a", on: url, lease: 1)
        try await restarted.open()
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.4, "waited for the old heartbeat to go stale")
        let recoveredMine = try await b.record(mine)
        XCTAssertEqual(recoveredMine?.attempts.first?.outcome, .interrupted)
        XCTAssertEqual(recoveredMine?.attempts.first?.reason.hasPrefix("the gateway stopped during this call"), true)
        let untouched = try await b.record(theirs)
        XCTAssertEqual(untouched?.status, .calling, "another box's call is left to it")
    }

    func testTwoRunningBoxesWithOneGatewayIdAreRefused() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let running = try box("same", on: url, lease: 1)
        try await running.open()
        let beating = Task {
            while !Task.isCancelled {
                try? await running.heartbeat(lines: 1, freeLines: 1)
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        defer { beating.cancel() }
        let second = try box("same", on: url, lease: 1)
        do {
            try await second.open()
            XCTFail("a second box with the same gatewayId started")
        } catch {
            XCTAssertTrue("\(error)".contains("give each box its own gatewayId"), "\(error)")
        }
    }

    func testBoxesStartingOnAnEmptyDatabaseAtOnceMigrateItOnce() async throws {
        let url = try PostgresServer.shared().createDatabase()
        let boxes = try (0..<4).map { try box("box\($0)", on: url) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for queue in boxes { group.addTask { try await queue.open() } }
            try await group.waitForAll()
        }
        let id = try await boxes[3].submit(try Self.request())
        let record = try await boxes[0].record(id)
        XCTAssertEqual(record?.status, .pending)
        let versions = try PostgresServer.shared().psql(url, "SELECT COUNT(*) FROM schema_versions")
        XCTAssertEqual(versions, "\(PostgresCallQueue.migrations.count)")
    }

    func testAMessageKeptWithTheRequestIsReadByEveryBoxAndRemovalReachesThem() async throws {
        let boxes = try await openBoxes("a", "b")
        let (a, b) = (boxes[0], boxes[1])
        let wav = WAVFile.encode([Int16](repeating: 1000, count: 800))
        var events = b.events().makeAsyncIterator()
        let connected = await events.next()
        XCTAssertEqual(connected, .workArrived)
        let id = try await a.submit(try Self.request(), audio: wav)
        let arrived = await events.next()
        XCTAssertEqual(arrived, .workArrived, "the other box hears of new work")
        let claim = try await b.claimNext(line: 0) { _ in false }
        XCTAssertEqual(claim?.preparing, false, "the message came with the request")
        let stored = try await b.audio(for: id)
        XCTAssertEqual(stored, wav)
        let removed = try await a.remove(id)
        XCTAssertTrue(removed)
        let told = await events.next()
        XCTAssertEqual(told, .removed(id), "the box calling for it is told")
        let gone = try await b.audio(for: id)
        XCTAssertNil(gone)
    }

    func testALostDatabaseIsReportedPromptlyAndNothingAcceptedIsLost() async throws {
        let server = try PostgresServer.shared()
        let url = try server.createDatabase()
        let a = try box("a", on: url, timeout: 1)
        try await a.open()
        let before = try await a.submit(try Self.request())
        try server.stop()
        var restarted = false
        defer { if !restarted { try? server.start() } }
        let started = Date()
        do {
            _ = try await a.submit(try Self.request())
            XCTFail("a request was accepted while the database was away")
        } catch let error as QueueUnavailable {
            XCTAssertTrue(error.message.contains("unreachable"), error.message)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the failure is prompt")
        XCTAssertNotNil(a.unavailable)
        try server.start()
        restarted = true
        // The pool connects again by itself.
        var record: CallRecord?
        for _ in 0..<50 where record == nil {
            record = try? await a.record(before)
            if record == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        XCTAssertEqual(record?.status, .pending)
        XCTAssertNil(a.unavailable)
    }
}

/// A shared queue's configuration, checked where it is read.
final class SharedQueueConfigurationTests: XCTestCase {
    private func error(_ json: String) -> String {
        do {
            _ = try GatewayConfiguration.parse(Data(json.utf8))
            return "accepted"
        } catch { return "\(error)" }
    }

    func testBadQueueSettingsSayWhatIsWrong() {
        XCTAssertTrue(error(#"{"queue": {"kind": "postgres"}}"#).contains("queue.url is missing"))
        XCTAssertTrue(error(#"{"queue": {"kind": "postgres", "url": "postgres://u:secret@db/calls"}}"#).contains("a password in the URL"))
        XCTAssertTrue(error(#"{"queue": {"kind": "postgres", "url": "mysql://u@db/calls"}}"#).contains("the scheme must be postgres"))
        XCTAssertTrue(error(#"{"queue": {"kind": "postgres", "url": "postgres://u@db"}}"#).contains("the database name is missing"))
        XCTAssertTrue(error(#"{"queue": {"kind": "postgres", "url": "postgres://u@db/c?sslmode=verify-full"}}"#).contains("sslmode=verify-full is not understood"))
        XCTAssertTrue(error(#"{"queue": {"kind": "mongo"}}"#).contains("queue.kind is \"mongo\"; use one of sqlite, postgres"))
        XCTAssertTrue(error(#"{"queue": {"kind": "sqlite", "url": "postgres://u@db/c"}}"#).contains("are for a postgres queue"))
        XCTAssertTrue(error(#"{"queue": {"leaseSecs": 3}}"#).contains("unknown key \"queue.leaseSecs\""))
        XCTAssertTrue(error(#"{"gatewayId": "box one"}"#).contains("gatewayId \"box one\""))
        XCTAssertEqual(error(#"{"queue": {"kind": "postgres", "url": "postgres://linecard@db.example.com:5433/calls"}, "gatewayId": "box-1"}"#), "accepted")
    }

    func testAPasswordComesFromItsFileOrTheEnvironment() throws {
        var queue = QueueConfiguration()
        XCTAssertEqual(try queue.password(environment: ["LINECARD_QUEUE_PASSWORD": "a", "PGPASSWORD": "b"]), "a")
        XCTAssertEqual(try queue.password(environment: ["PGPASSWORD": "b"]), "b")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pw-\(UUID().uuidString)")
        try "from-file\nignored\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        queue.passwordFile = file.path
        XCTAssertEqual(try queue.password(environment: ["LINECARD_QUEUE_PASSWORD": "a"]), "from-file")
        queue.passwordFile = "/nonexistent/pw"
        XCTAssertThrowsError(try queue.password()) { XCTAssertTrue("\($0)".contains("cannot read /nonexistent/pw")) }
    }

    func testAGatewayWhoseDatabaseCannotBeReachedSaysSoAndExits() throws {
        let (status, output) = try RunningGateway.run(configuration: """
            {"port": 0, "card": {"clock": "virtual"}, "queue": {"kind": "postgres", "url": "postgres://linecard@127.0.0.1:1/calls", "timeoutSeconds": 1}}
            """)
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("postgres://linecard@127.0.0.1:1/calls is unreachable"), output)
    }
}

extension PostgresServer {
    /// One value from `query` run by psql on the database at `url`.
    func psql(_ url: String, _ query: String) throws -> String {
        let database = String(url.split(separator: "/").last ?? "")
        return try Self.run(["/usr/bin/psql", "-h", "127.0.0.1", "-p", String(port), "-U", "linecard", "-d", database, "-tAc", query])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
