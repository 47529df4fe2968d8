import Foundation
import Linecard
import Logging
import PostgresNIO
import Synchronization

/// The call queue any number of gateway boxes share: one PostgreSQL database.
///
/// A box claims a request with `FOR UPDATE SKIP LOCKED`, so two boxes never take the same
/// one, and records itself as the attempt's owner with a lease that it renews while the call
/// lasts. A box recovers its own unfinished attempts when it starts; an attempt whose lease
/// ran out (its box died) is recovered by any box, as interrupted, so no attempt is dialled
/// twice. Times are the database's. New work and removals reach the other boxes through
/// `LISTEN/NOTIFY` (`events`); the dialler's own polling covers a lost notification.
public final class PostgresCallQueue: CallQueue {
    public let address: PostgresAddress
    public let gatewayId: String
    private let policy: RetryPolicy
    private let lease: Double
    private let timeout: Duration
    private let client: PostgresClient
    private let logger: Logger
    private let runner: Task<Void, Never>
    /// This process, as told apart from an earlier one with the same gateway id.
    private let instance = UUID().uuidString
    /// Why the database is unreachable now; nil while it answers.
    private let lost = Mutex<String?>(nil)
    private let submissions = GroupCommit<Submission>()

    private struct Submission {
        let request: NewCallRequest
        let audio: Data?
    }

    /// What other boxes tell this one through the database.
    public enum Event: Sendable, Equatable {
        /// A request arrived or fell due: idle lines should look.
        case workArrived
        /// Request `id` was removed: the box calling for it hangs up.
        case removed(Int64)
    }

    static let channel = "linecard_queue"

    /// A queue on the database at `address`; nothing is read until `open`.
    public init(address: PostgresAddress, password: String?, gatewayId: String, policy: RetryPolicy,
                leaseSeconds: Double, timeoutSeconds: Double, logger: Logger) {
        self.address = address
        self.gatewayId = gatewayId
        self.policy = policy
        lease = leaseSeconds
        timeout = .milliseconds(Int(timeoutSeconds * 1000))
        self.logger = logger
        var configuration = PostgresClient.Configuration(
            host: address.host, port: address.port, username: address.user, password: password,
            database: address.database, tls: address.requiresTLS ? .require(.makeClientConfiguration()) : .disable)
        configuration.options.connectTimeout = .milliseconds(Int(timeoutSeconds * 1000))
        configuration.options.maximumConnections = 16
        // The pool reports every failed connection; the queue says once that the database is lost.
        var background = Logger(label: "linecard.gateway.postgres")
        background.logLevel = .error
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.client = client
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Closes the connections.
    public func close() { runner.cancel() }

    // MARK: Starting

    /// Brings the schema up to date, makes sure no other running box has this gateway id, and
    /// recovers the attempts this box left unfinished when it last stopped.
    public func open() async throws {
        try await database("preparing the call queue") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                // One box at a time migrates: the others wait here, then find nothing to do.
                try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.query("CREATE TABLE IF NOT EXISTS schema_versions(version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())", logger: logger)
                var current = 0
                for try await version in try await connection.query("SELECT COALESCE(MAX(version), 0) FROM schema_versions", logger: logger).decode(Int.self) {
                    current = version
                }
                guard current <= Self.migrations.count else {
                    throw QueueUnavailable(message: "the call queue's schema is version \(current), newer than this gateway knows (\(Self.migrations.count)): upgrade this gateway")
                }
                for (index, migration) in Self.migrations.enumerated() where index + 1 > current {
                    for statement in migration { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.query("INSERT INTO schema_versions(version) VALUES (\(index + 1))", logger: logger)
                }
            }
        }
        try await claimGatewayId()
        try await recover(where: .ownedByThisBox)
    }

    /// Waits out an earlier process of this box (its heartbeat stops); a heartbeat that goes on
    /// is another running box with the same id, which would recover this one's calls.
    private func claimGatewayId() async throws {
        var seen: (instance: String, heartbeat: Date)?
        let deadline = ContinuousClock.now + .milliseconds(Int(lease * 2000 + 2000))
        while true {
            let row = try await database("registering gateway \(gatewayId)") { client, logger in
                try await client.withTransaction(logger: logger) { connection -> (String, Date, Double)? in
                    for try await (instance, heartbeat, age) in try await connection.query("""
                        SELECT instance, heartbeat, EXTRACT(EPOCH FROM now() - heartbeat)::float8 FROM gateways WHERE id = \(self.gatewayId) FOR UPDATE
                        """, logger: logger).decode((String, Date, Double).self) {
                        return (instance, heartbeat, age)
                    }
                    return nil
                }
            }
            if let (instance, heartbeat, age) = row, instance != self.instance, age < lease {
                if let seen, seen.instance == instance, seen.heartbeat != heartbeat {
                    throw QueueUnavailable(message: "another gateway is running as gatewayId \"\(gatewayId)\" (its heartbeat goes on): give each box its own gatewayId")
                }
                seen = (instance, heartbeat)
                guard ContinuousClock.now < deadline else {
                    throw QueueUnavailable(message: "gatewayId \"\(gatewayId)\" is still held by another process")
                }
                logger.notice("gateway \(gatewayId) was running \(Int(age)) s ago: waiting for its lease to run out before recovering its calls")
                try await Task.sleep(for: .milliseconds(Int((lease - age) * 1000) + 500))
                continue
            }
            try await heartbeat(lines: 0, freeLines: 0)
            return
        }
    }

    // MARK: Accepting requests

    /// Stores `request` (and its prepared message, when given) and returns its ReqId:
    /// milliseconds since 1970 by the database's clock, made unique across every box.
    /// Submissions that arrive together are written in one transaction.
    public func submit(_ request: NewCallRequest, audio: Data?) async throws -> Int64 {
        // One writer per box: concurrent batches would queue on the counter row, each paying
        // its own sync.
        try await submissions.submit(Submission(request: request, audio: audio)) { batch in try await self.write(batch) }
    }

    private func write(_ batch: [Submission]) async throws -> [Int64] {
        try await database("storing \(batch.count) call requests") { client, logger in
            try await client.withTransaction(logger: logger) { connection -> [Int64] in
                let requests = batch.map(\.request)
                // The counter row is where boxes take turns: it is held from this one
                // statement (ids and rows together) to the commit. `firstocc` counts from the
                // database's now, like every other time here.
                var ids: [Int64] = []
                for try await id in try await connection.query("""
                    WITH counter AS (
                        UPDATE counters SET value = GREATEST(value + \(requests.count),
                                                             (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::bigint + \(requests.count) - 1)
                        WHERE name = 'last_request_id' RETURNING value)
                    INSERT INTO requests(id, info, phoneno, numbers, message, confirm_code, self_delete, created, deadline,
                                         status, next_attempt, warnings, accepted_by)
                    SELECT (SELECT value FROM counter) - \(requests.count) + r.n, r.info, r.phoneno, r.numbers, r.message,
                           NULLIF(r.code, ''), r.self_delete, now(), now() + make_interval(secs => r.firstocc), 'pending', now(),
                           r.warnings, \(self.gatewayId)
                    FROM unnest(\(requests.map(\.info)), \(requests.map(\.phoneNumber)), \(requests.map { Self.json($0.numbers) }),
                                \(requests.map { Self.json($0.message) }), \(requests.map { $0.confirmationCode ?? "" }),
                                \(requests.map(\.selfDelete)), \(requests.map { $0.deadline.timeIntervalSinceNow }),
                                \(requests.map { Self.json($0.warnings) }))
                         WITH ORDINALITY AS r(info, phoneno, numbers, message, code, self_delete, firstocc, warnings, n)
                    RETURNING id
                    """, logger: logger).decode(Int64.self) { ids.append(id) }
                ids.sort()
                for (id, submission) in zip(ids, batch) {
                    if let audio = submission.audio {
                        try await connection.query("INSERT INTO audio(request, wav) VALUES (\(id), \(audio))", logger: logger)
                    }
                }
                try await connection.query("SELECT pg_notify(\(Self.channel), 'work')", logger: logger)
                return ids
            }
        }
    }

    // MARK: Working the queue

    public func claimNext(line: Int, now: Date?, isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim? {
        try await database("claiming a request for line \(line)") { client, logger in
            try await client.withTransaction(logger: logger) { connection -> CallClaim? in
                let now = try await Self.clock(connection, logger, unless: now)
                while true {
                    var found: Int64?
                    for try await id in try await connection.query("""
                        SELECT id FROM requests WHERE status IN ('pending', 'retry') AND next_attempt <= \(now)
                        ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED
                        """, logger: logger).decode(Int64.self) { found = id }
                    guard let id = found, let record = try await Self.record(id, connection, logger) else { return nil }
                    if record.request.isTooLate(afterAttempts: record.attempts.count, now: now) {
                        let reason = "\(record.attempts.last?.reason ?? "") Too late to call again"
                        try await connection.query("UPDATE requests SET status = 'failed', reason = \(reason) WHERE id = \(id)", logger: logger)
                        continue
                    }
                    let attempt = record.attempts.count + 1
                    guard let number = record.request.number(forAttempt: attempt) else {
                        try await connection.query("UPDATE requests SET status = 'failed', reason = 'the request has no number to call' WHERE id = \(id)", logger: logger)
                        continue
                    }
                    var stored = false
                    for try await _ in try await connection.query("SELECT 1 FROM audio WHERE request = \(id)", logger: logger) { stored = true }
                    let preparing = !(stored || isPrepared(record))
                    let outcome: CallAttempt.Outcome = preparing ? .preparing : .dialling
                    try await connection.query("""
                        INSERT INTO attempts(request, number, line, dialled, started, outcome, gateway, lease_until)
                        VALUES (\(id), \(attempt), \(line), \(number.written), \(now), \(outcome.rawValue), \(self.gatewayId),
                                now() + make_interval(secs => \(self.lease)))
                        """, logger: logger)
                    try await connection.query("UPDATE requests SET status = 'calling' WHERE id = \(id)", logger: logger)
                    var claimed = record
                    claimed.status = .calling
                    return CallClaim(record: claimed, attempt: attempt, number: number, preparing: preparing)
                }
            }
        }
    }

    public func markDialling(id: Int64, attempt: Int) async throws {
        try await database("recording request \(id)'s attempt \(attempt) as dialling") { client, logger in
            try await client.query("""
                UPDATE attempts SET outcome = 'dialling' WHERE request = \(id) AND number = \(attempt) AND outcome = 'preparing'
                """, logger: logger)
        }
    }

    public func finish(id: Int64, attempt: Int, result: AttemptResult, now: Date?) async throws -> RequestStatus? {
        try await database("recording request \(id)'s attempt \(attempt)") { client, logger in
            try await client.withTransaction(logger: logger) { connection -> RequestStatus? in
                let now = try await Self.clock(connection, logger, unless: now)
                // Only the attempt's owner ends it, and only once: another box may have
                // recovered it when this one's lease ran out.
                var open = false
                for try await _ in try await connection.query("""
                    SELECT 1 FROM attempts WHERE request = \(id) AND number = \(attempt) AND ended IS NULL AND gateway = \(self.gatewayId) FOR UPDATE
                    """, logger: logger) { open = true }
                guard open else { return nil }
                return try await self.finish(id: id, attempt: attempt, result: result, now: now, on: connection, logger: logger)
            }
        }
    }

    private func finish(id: Int64, attempt: Int, result: AttemptResult, now: Date,
                        on connection: PostgresConnection, logger: Logger) async throws -> RequestStatus? {
        for try await _ in try await connection.query("SELECT 1 FROM requests WHERE id = \(id) FOR UPDATE", logger: logger) {}
        guard let record = try await Self.record(id, connection, logger) else { return nil }
        let end = policy.conclude(result, attempt: attempt, of: record.request, now: now)
        try await connection.query("""
            UPDATE attempts SET ended = \(now), outcome = \(end.outcome.rawValue), reason = \(end.reason), lease_until = NULL
            WHERE request = \(id) AND number = \(attempt)
            """, logger: logger)
        if end.status.isFinal && record.request.selfDelete {
            try await connection.query("DELETE FROM requests WHERE id = \(id)", logger: logger)
            return end.status
        }
        try await connection.query("""
            UPDATE requests SET status = \(end.status.rawValue), reason = \(end.reason), next_attempt = \(end.nextAttempt) WHERE id = \(id)
            """, logger: logger)
        if end.status == .retry { try await connection.query("SELECT pg_notify(\(Self.channel), 'work')", logger: logger) }
        return end.status
    }

    // MARK: Leases

    /// Renews this box's leases on the calls it has on its lines and records its heartbeat
    /// and free lines (what `/api/v1/gateways` shows).
    public func heartbeat(lines: Int, freeLines: Int) async throws {
        try await database("renewing gateway \(gatewayId)'s leases") { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    UPDATE attempts SET lease_until = now() + make_interval(secs => \(self.lease))
                    WHERE gateway = \(self.gatewayId) AND ended IS NULL
                    """, logger: logger)
                try await connection.query("""
                    INSERT INTO gateways(id, instance, heartbeat, started, lines, free_lines)
                    VALUES (\(self.gatewayId), \(self.instance), now(), now(), \(lines), \(freeLines))
                    ON CONFLICT (id) DO UPDATE SET heartbeat = now(), lines = EXCLUDED.lines, free_lines = EXCLUDED.free_lines,
                        started = CASE WHEN gateways.instance = EXCLUDED.instance THEN gateways.started ELSE now() END,
                        instance = EXCLUDED.instance
                    """, logger: logger)
            }
        }
    }

    enum Recovery { case ownedByThisBox, leaseExpired }

    /// Ends the attempts that no box will finish, as interrupted (their requests are tried
    /// again by whichever box is free): this box's own, when it starts; any box's whose lease
    /// ran out. Returns how many.
    @discardableResult
    public func recoverExpiredLeases() async throws -> Int { try await recover(where: .leaseExpired) }

    @discardableResult
    private func recover(where which: Recovery) async throws -> Int {
        try await database("recovering unfinished calls") { client, logger in
            try await client.withTransaction(logger: logger) { connection -> Int in
                let now = try await Self.clock(connection, logger)
                let rows: PostgresRowSequence
                switch which {
                case .ownedByThisBox:
                    rows = try await connection.query("""
                        SELECT request, number, outcome, gateway FROM attempts WHERE gateway = \(self.gatewayId) AND ended IS NULL
                        ORDER BY request, number FOR UPDATE
                        """, logger: logger)
                case .leaseExpired:
                    rows = try await connection.query("""
                        SELECT request, number, outcome, gateway FROM attempts WHERE ended IS NULL AND lease_until < now()
                        ORDER BY request, number FOR UPDATE SKIP LOCKED
                        """, logger: logger)
                }
                var found: [(Int64, Int, String, String)] = []
                for try await row in rows.decode((Int64, Int, String, String).self) { found.append(row) }
                for (id, number, outcome, owner) in found {
                    let preparing = outcome == CallAttempt.Outcome.preparing.rawValue
                    var before = 0
                    if preparing {
                        for try await n in try await connection.query("""
                            SELECT COUNT(*)::int FROM attempts WHERE request = \(id) AND reason LIKE \(AttemptResult.stoppedWhilePreparing + "%")
                            """, logger: logger).decode(Int.self) { before = n }
                    }
                    let result = AttemptResult.abandoned(
                        whilePreparing: preparing, earlierStopsWhilePreparing: before,
                        otherwise: which == .ownedByThisBox
                            ? "the gateway stopped during this call"
                            : "gateway \(owner) stopped answering during this call (its lease ran out)")
                    _ = try await self.finish(id: id, attempt: number, result: result, now: now, on: connection, logger: logger)
                }
                return found.count
            }
        }
    }

    // MARK: Reading and removing

    public func record(_ id: Int64) async throws -> CallRecord? {
        try await database("reading request \(id)") { client, logger in
            try await client.withConnection { connection in try await Self.record(id, connection, logger) }
        }
    }

    public func list(status: RequestStatus?, limit: Int) async throws -> [CallRecord] {
        try await database("listing requests") { client, logger in
            try await client.withConnection { connection in
                var ids: [Int64] = []
                for try await id in try await connection.query("""
                    SELECT id FROM requests WHERE \(status?.rawValue)::text IS NULL OR status = \(status?.rawValue) ORDER BY id DESC LIMIT \(limit)
                    """, logger: logger).decode(Int64.self) { ids.append(id) }
                var records: [CallRecord] = []
                for id in ids { if let record = try await Self.record(id, connection, logger) { records.append(record) } }
                return records
            }
        }
    }

    /// Deletes request `id` and tells every box: the one calling for it hangs up.
    public func remove(_ id: Int64) async throws -> Bool {
        try await database("removing request \(id)") { client, logger in
            try await client.withTransaction(logger: logger) { connection -> Bool in
                var removed = false
                for try await _ in try await connection.query("DELETE FROM requests WHERE id = \(id) RETURNING id", logger: logger) { removed = true }
                if removed { try await connection.query("SELECT pg_notify(\(Self.channel), \("removed \(id)"))", logger: logger) }
                return removed
            }
        }
    }

    public func counts() async throws -> [RequestStatus: Int] {
        try await database("counting requests") { client, logger in
            var counts: [RequestStatus: Int] = [:]
            for try await (status, n) in try await client.query("SELECT status, COUNT(*)::int FROM requests GROUP BY status", logger: logger)
                .decode((String, Int).self) {
                if let status = RequestStatus(rawValue: status) { counts[status] = n }
            }
            return counts
        }
    }

    public func nextDue() async throws -> Date? {
        try await database("reading when the next request is due") { client, logger in
            // In this box's time: the caller sleeps on its own clock until then.
            var due: Double?
            for try await wait in try await client.query("""
                SELECT EXTRACT(EPOCH FROM MIN(next_attempt) - now())::float8 FROM requests WHERE status IN ('pending', 'retry')
                """, logger: logger).decode(Double?.self) { due = wait }
            return due.map { Date().addingTimeInterval($0) }
        }
    }

    // MARK: Messages every box can play

    public var keepsAudio: Bool { true }

    public func audio(for id: Int64) async throws -> Data? {
        try await database("reading request \(id)'s message") { client, logger in
            var wav: Data?
            for try await data in try await client.query("SELECT wav FROM audio WHERE request = \(id)", logger: logger).decode(Data.self) { wav = data }
            return wav
        }
    }

    public func storeAudio(_ wav: Data, for id: Int64) async throws {
        try await database("storing request \(id)'s message") { client, logger in
            // The request may be gone meanwhile: nothing to keep then.
            try await client.query("""
                INSERT INTO audio(request, wav) SELECT id, \(wav) FROM requests WHERE id = \(id) ON CONFLICT (request) DO NOTHING
                """, logger: logger)
        }
    }

    // MARK: The boxes

    public func boxes() async throws -> [GatewayView] {
        try await database("listing the gateways") { client, logger in
            var boxes: [GatewayView] = []
            for try await (id, started, heartbeat, age, lines, free, calls) in try await client.query("""
                SELECT g.id, g.started, g.heartbeat, EXTRACT(EPOCH FROM now() - g.heartbeat)::float8, g.lines, g.free_lines,
                       (SELECT COUNT(*)::int FROM attempts a WHERE a.gateway = g.id AND a.ended IS NULL)
                FROM gateways g ORDER BY g.id
                """, logger: logger).decode((String, Date, Date, Double, Int, Int, Int).self) {
                boxes.append(GatewayView(id: id, started: started, lastHeartbeat: heartbeat, secondsSinceHeartbeat: age, lines: lines,
                                 freeLines: free, alive: age < self.lease, calls: calls))
            }
            return boxes
        }
    }

    /// Notices from the other boxes, for as long as the caller listens; the connection is
    /// made again when it is lost (and `workArrived` sent then, in case one was missed).
    public func events() -> AsyncStream<Event> {
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let task = Task { [client, logger, weak self] in
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        let notifications = try await connection.listen(Self.channel)
                        continuation.yield(.workArrived)
                        for try await notification in notifications {
                            if notification.payload == "work" {
                                continuation.yield(.workArrived)
                            } else if notification.payload.hasPrefix("removed "), let id = Int64(notification.payload.dropFirst(8)) {
                                continuation.yield(.removed(id))
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    let why = Self.describe(error)
                    if self?.unavailable == nil { logger.warning("the call queue's notices stopped: \(why)") }
                }
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    // MARK: Reaching the database

    /// Why the database cannot be used now, or nil.
    public var unavailable: String? { lost.withLock { $0 } }

    /// Runs `body` against the database within the timeout; a failure to reach the database
    /// is remembered (`unavailable`) until an operation succeeds again.
    private func database<T: Sendable>(_ what: String,
                                       _ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
        let client = self.client, logger = self.logger, timeout = self.timeout
        do {
            let value = try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await body(client, logger) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw NoAnswer(timeout: timeout)
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            if lost.withLock({ $0 }) != nil {
                lost.withLock { $0 = nil }
                logger.notice("the call queue's database \(address) answers again")
            }
            return value
        } catch let error as QueueUnavailable {
            throw error
        } catch where Task.isCancelled {
            // The caller stopped waiting (the box is stopping): not a sign of a lost database.
            throw CancellationError()
        } catch {
            let why = Self.describe(error)
            if Self.isLostConnection(error) {
                let first = lost.withLock { old in defer { old = why }; return old == nil }
                if first { logger.error("the call queue's database \(address) is unreachable: \(why)") }
                throw QueueUnavailable(message: "the call queue's database \(address) is unreachable (\(why)) while \(what)")
            }
            throw QueueUnavailable(message: "the call queue's database \(address) refused \(what): \(why)")
        }
    }

    /// The database did not answer within the timeout.
    private struct NoAnswer: Error, CustomStringConvertible {
        let timeout: Duration
        var description: String { "no answer within \(timeout)" }
    }

    private static func isLostConnection(_ error: any Error) -> Bool {
        if error is NoAnswer { return true }
        guard let error = error as? PSQLError else { return true }
        return error.code != .server
    }

    /// What went wrong, in words: PostgresNIO's own description hides the server's message.
    static func describe(_ error: any Error) -> String {
        if let error = error as? QueueUnavailable { return error.message }
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return message + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }

    private static func clock(_ connection: PostgresConnection, _ logger: Logger, unless given: Date? = nil) async throws -> Date {
        if let given { return given }
        for try await now in try await connection.query("SELECT now()", logger: logger).decode(Date.self) { return now }
        return Date()
    }

    private static func record(_ id: Int64, _ connection: PostgresConnection, _ logger: Logger) async throws -> CallRecord? {
        var found: CallRecord?
        for try await (info, phoneno, numbers, message, code, selfDelete, created, deadline, status, next, reason, warnings)
            in try await connection.query("""
                SELECT info, phoneno, numbers, message, confirm_code, self_delete, created, deadline, status, next_attempt, reason, warnings
                FROM requests WHERE id = \(id)
                """, logger: logger).decode((String, String, String, String, String?, Bool, Date, Date, String, Date, String, String).self) {
            let request = NewCallRequest(
                info: info, phoneNumber: phoneno, numbers: decode([DialString].self, numbers) ?? [],
                message: decode(CallMessage.self, message) ?? .text(""), confirmationCode: code, selfDelete: selfDelete,
                deadline: deadline, warnings: decode([String].self, warnings) ?? [])
            found = CallRecord(id: id, request: request, created: created, status: RequestStatus(rawValue: status) ?? .failed,
                               nextAttempt: next, reason: reason, attempts: [])
        }
        guard var record = found else { return nil }
        for try await (number, line, dialled, started, ended, outcome, reason, gateway) in try await connection.query("""
            SELECT number, line, dialled, started, ended, outcome, reason, gateway FROM attempts WHERE request = \(id) ORDER BY number
            """, logger: logger).decode((Int, Int, String, Date, Date?, String, String, String).self) {
            record.attempts.append(CallAttempt(number: number, line: line, dialled: dialled, started: started, ended: ended,
                                               outcome: CallAttempt.Outcome(rawValue: outcome) ?? .failed, reason: reason,
                                               gateway: gateway))
        }
        return record
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    // MARK: The schema

    /// Taken while migrating: an arbitrary number that names this schema's lock.
    static let migrationLock: Int64 = 0x4C49_4E45_4341_5244 // "LINECARD"

    /// Each version's statements, in order; a database records the versions it has.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE requests(
                id bigint PRIMARY KEY,
                info text NOT NULL,
                phoneno text NOT NULL,
                numbers text NOT NULL,
                message text NOT NULL,
                confirm_code text,
                self_delete boolean NOT NULL,
                created timestamptz NOT NULL,
                deadline timestamptz NOT NULL,
                status text NOT NULL,
                next_attempt timestamptz NOT NULL,
                reason text NOT NULL DEFAULT '',
                warnings text NOT NULL DEFAULT '[]',
                accepted_by text NOT NULL)
            """,
            "CREATE INDEX requests_due ON requests(next_attempt, id) WHERE status IN ('pending', 'retry')",
            """
            CREATE TABLE attempts(
                request bigint NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
                number integer NOT NULL,
                line integer NOT NULL,
                dialled text NOT NULL,
                started timestamptz NOT NULL,
                ended timestamptz,
                outcome text NOT NULL,
                reason text NOT NULL DEFAULT '',
                gateway text NOT NULL,
                lease_until timestamptz,
                PRIMARY KEY(request, number))
            """,
            "CREATE INDEX attempts_open ON attempts(gateway, lease_until) WHERE ended IS NULL",
            "CREATE TABLE counters(name text PRIMARY KEY, value bigint NOT NULL)",
            "INSERT INTO counters(name, value) VALUES ('last_request_id', 0)",
            "CREATE TABLE audio(request bigint PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE, wav bytea NOT NULL)",
            """
            CREATE TABLE gateways(
                id text PRIMARY KEY,
                instance text NOT NULL,
                started timestamptz NOT NULL,
                heartbeat timestamptz NOT NULL,
                lines integer NOT NULL,
                free_lines integer NOT NULL)
            """,
        ],
    ]
}

/// The shared queue's database cannot be used now (or refused an operation).
public struct QueueUnavailable: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
