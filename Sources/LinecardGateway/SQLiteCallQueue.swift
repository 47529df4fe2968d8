import Dispatch
import Foundation
import Linecard
import Synchronization

/// The embedded call queue: one SQLite file. A request is on disk, synced, before its ReqId
/// is handed out; an attempt is on disk before its number is dialled, so a crash never
/// makes the gateway dial the same attempt twice.
///
/// Every database access runs on the database's serial queue. Submissions that arrive together are
/// written in one transaction (group commit): one sync for many clients.
public final class SQLiteCallQueue: CallQueue {
    private let database: SQLiteDatabase
    private let policy: RetryPolicy
    private let submissions = GroupCommit<NewCallRequest>()

    /// Opens (or creates) the queue at `path` and recovers from an unclean stop: attempts
    /// that were on a line are marked interrupted and their requests go back in the queue.
    public init(path: String, policy: RetryPolicy) throws {
        database = try SQLiteDatabase(path: path)
        self.policy = policy
        try database.execute("""
            CREATE TABLE IF NOT EXISTS requests(
                id INTEGER PRIMARY KEY,
                info TEXT NOT NULL,
                phoneno TEXT NOT NULL,
                numbers TEXT NOT NULL,
                message TEXT NOT NULL,
                confirm_code TEXT,
                self_delete INTEGER NOT NULL,
                created REAL NOT NULL,
                deadline REAL NOT NULL,
                status TEXT NOT NULL,
                next_attempt REAL NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                warnings TEXT NOT NULL DEFAULT '[]');
            CREATE TABLE IF NOT EXISTS attempts(
                request INTEGER NOT NULL REFERENCES requests(id) ON DELETE CASCADE,
                number INTEGER NOT NULL,
                line INTEGER NOT NULL,
                dialled TEXT NOT NULL,
                started REAL NOT NULL,
                ended REAL,
                outcome TEXT NOT NULL,
                reason TEXT NOT NULL DEFAULT '',
                PRIMARY KEY(request, number));
            CREATE INDEX IF NOT EXISTS requests_due ON requests(status, next_attempt);
            CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
            """)
        try database.queue.sync {
            try database.transaction {
                // ReqIds are never given out twice: the last one is kept even when its request
                // is removed (a queue from before this counter starts from its newest id).
                try database.query("""
                    INSERT OR IGNORE INTO counters(name, value) SELECT 'last_request_id', COALESCE(MAX(id), 0) FROM requests
                    """)
                let interrupted = try database.query("SELECT request, number, outcome FROM attempts WHERE outcome IN ('dialling', 'preparing')")
                for row in interrupted {
                    guard let id = row[0].int, let number = row[1].int else { continue }
                    let preparing = row[2].string == CallAttempt.Outcome.preparing.rawValue
                    let before = preparing ? try database.query("SELECT COUNT(*) FROM attempts WHERE request = ? AND reason LIKE ?",
                        [.integer(id), .text(AttemptResult.stoppedWhilePreparing + "%")]).first?.first?.int ?? 0 : 0
                    let result = AttemptResult.abandoned(whilePreparing: preparing, earlierStopsWhilePreparing: Int(before),
                                                         otherwise: "the gateway stopped during this call")
                    _ = try finishLocked(id: id, attempt: Int(number), result: result, now: Date())
                }
            }
        }
    }

    // MARK: Accepting requests

    /// Stores `request` durably and returns its ReqId (milliseconds since 1970, as the
    /// simple call interface's clients expect, made unique).
    public func submit(_ request: NewCallRequest, audio: Data?) async throws -> Int64 {
        try await submissions.submit(request) { batch in try await self.write(batch) }
    }

    private func write(_ batch: [NewCallRequest]) async throws -> [Int64] {
        try await database.run {
            try self.database.transaction {
                var last = try self.database.query("SELECT value FROM counters WHERE name = 'last_request_id'").first?.first?.int ?? 0
                var ids: [Int64] = []
                let now = Date()
                for request in batch {
                    let id = max(Int64(now.timeIntervalSince1970 * 1000), last + 1)
                    last = id
                    try self.insert(request, id: id, now: now)
                    ids.append(id)
                }
                try self.database.query("UPDATE counters SET value = ? WHERE name = 'last_request_id'", [.integer(last)])
                return ids
            }
        }
    }

    private func insert(_ request: NewCallRequest, id: Int64, now: Date) throws {
        try database.query("""
            INSERT INTO requests(id, info, phoneno, numbers, message, confirm_code, self_delete, created, deadline,
                                 status, next_attempt, warnings)
            VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
            """, [.integer(id), .text(request.info), .text(request.phoneNumber), .text(Self.json(request.numbers)),
                  .text(Self.json(request.message)), request.confirmationCode.map { .text($0) } ?? .null,
                  .integer(request.selfDelete ? 1 : 0), .real(now.timeIntervalSince1970),
                  .real(request.deadline.timeIntervalSince1970), .real(now.timeIntervalSince1970),
                  .text(Self.json(request.warnings))])
    }

    /// Each box prepares its messages in its own data folder.
    public var keepsAudio: Bool { false }
    public func audio(for id: Int64) async throws -> Data? { nil }
    public func storeAudio(_ wav: Data, for id: Int64) async throws {}

    // MARK: Working the queue

    /// Takes the request that is due soonest for an attempt on `line`, recording the
    /// attempt (synced) before returning it: as dialling when `isPrepared` says its message is
    /// ready, else as preparing. Requests whose deadline passed fail here.
    public func claimNext(line: Int, now: Date?,
                          isPrepared: @escaping @Sendable (CallRecord) -> Bool) async throws -> CallClaim? {
        let now = now ?? Date()
        return try await database.run {
            try self.database.transaction { () -> CallClaim? in
                while true {
                    guard let row = try self.database.query("""
                        SELECT id FROM requests WHERE status IN ('pending', 'retry') AND next_attempt <= ?
                        ORDER BY next_attempt, id LIMIT 1
                        """, [.real(now.timeIntervalSince1970)]).first, let id = row[0].int,
                        let record = try self.recordLocked(id) else { return nil }
                    if record.request.isTooLate(afterAttempts: record.attempts.count, now: now) {
                        let reason = "\(record.attempts.last?.reason ?? "") Too late to call again"
                        try self.database.query("UPDATE requests SET status = 'failed', reason = ? WHERE id = ?",
                                                [.text(reason), .integer(id)])
                        continue
                    }
                    let attempt = record.attempts.count + 1
                    guard let number = record.request.number(forAttempt: attempt) else {
                        // Numbers are checked before they are stored: only a damaged file gets here.
                        try self.database.query("UPDATE requests SET status = 'failed', reason = ? WHERE id = ?",
                                                [.text("the request's numbers cannot be read from the queue file"), .integer(id)])
                        continue
                    }
                    let preparing = !isPrepared(record)
                    let outcome: CallAttempt.Outcome = preparing ? .preparing : .dialling
                    try self.database.query("""
                        INSERT INTO attempts(request, number, line, dialled, started, outcome) VALUES(?, ?, ?, ?, ?, ?)
                        """, [.integer(id), .integer(Int64(attempt)), .integer(Int64(line)), .text(number.written),
                              .real(now.timeIntervalSince1970), .text(outcome.rawValue)])
                    try self.database.query("UPDATE requests SET status = 'calling' WHERE id = ?", [.integer(id)])
                    var claimed = record
                    claimed.status = .calling
                    return CallClaim(record: claimed, attempt: attempt, number: number, preparing: preparing)
                }
            }
        }
    }

    /// Records that attempt `attempt` of request `id` has its message and goes on the line.
    public func markDialling(id: Int64, attempt: Int) async throws {
        try await database.run {
            try self.database.query("UPDATE attempts SET outcome = 'dialling' WHERE request = ? AND number = ? AND outcome = 'preparing'",
                                    [.integer(id), .integer(Int64(attempt))])
        }
    }

    /// Records how attempt `attempt` of request `id` ended and decides what comes next:
    /// made, another attempt (retry) or failed; a self-deleting request that ended is
    /// removed. Returns the request's new status, or nil when the request was removed
    /// meanwhile.
    @discardableResult
    public func finish(id: Int64, attempt: Int, result: AttemptResult, now: Date?) async throws -> RequestStatus? {
        let now = now ?? Date()
        return try await database.run { try self.database.transaction { try self.finishLocked(id: id, attempt: attempt, result: result, now: now) } }
    }

    private func finishLocked(id: Int64, attempt: Int, result: AttemptResult, now: Date) throws -> RequestStatus? {
        guard let record = try recordLocked(id) else { return nil }
        let end = policy.conclude(result, attempt: attempt, of: record.request, now: now)
        try database.query("UPDATE attempts SET ended = ?, outcome = ?, reason = ? WHERE request = ? AND number = ?",
                           [.real(now.timeIntervalSince1970), .text(end.outcome.rawValue), .text(end.reason), .integer(id),
                            .integer(Int64(attempt))])
        if end.status.isFinal && record.request.selfDelete {
            try database.query("DELETE FROM requests WHERE id = ?", [.integer(id)])
            return end.status
        }
        try database.query("UPDATE requests SET status = ?, reason = ?, next_attempt = ? WHERE id = ?",
                           [.text(end.status.rawValue), .text(end.reason), .real(end.nextAttempt.timeIntervalSince1970), .integer(id)])
        return end.status
    }

    // MARK: Reading and removing

    public func record(_ id: Int64) async throws -> CallRecord? {
        try await database.run { try self.recordLocked(id) }
    }

    /// The newest requests first, optionally only those with `status`.
    public func list(status: RequestStatus?, limit: Int) async throws -> [CallRecord] {
        try await database.run {
            let rows = try self.database.query(
                "SELECT id FROM requests WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2",
                [status.map { .text($0.rawValue) } ?? .null, .integer(Int64(limit))])
            return try rows.compactMap { try $0[0].int.flatMap(self.recordLocked) }
        }
    }

    /// Deletes a request whatever its state; false when there is no such request.
    public func remove(_ id: Int64) async throws -> Bool {
        try await database.run {
            try self.database.query("DELETE FROM requests WHERE id = ?", [.integer(id)])
            return self.database.changes > 0
        }
    }

    /// How many requests are in each state.
    public func counts() async throws -> [RequestStatus: Int] {
        try await database.run {
            var counts: [RequestStatus: Int] = [:]
            for row in try self.database.query("SELECT status, COUNT(*) FROM requests GROUP BY status") {
                if let status = row[0].string.flatMap(RequestStatus.init), let n = row[1].int { counts[status] = Int(n) }
            }
            return counts
        }
    }

    /// When the next waiting request falls due, if any is waiting.
    public func nextDue() async throws -> Date? {
        try await database.run {
            try self.database.query("SELECT MIN(next_attempt) FROM requests WHERE status IN ('pending', 'retry')")
                .first?.first?.double.map { Date(timeIntervalSince1970: $0) }
        }
    }

    private func recordLocked(_ id: Int64) throws -> CallRecord? {
        guard let row = try database.query("""
            SELECT info, phoneno, numbers, message, confirm_code, self_delete, created, deadline, status, next_attempt,
                   reason, warnings FROM requests WHERE id = ?
            """, [.integer(id)]).first else { return nil }
        let request = NewCallRequest(
            info: row[0].string ?? "", phoneNumber: row[1].string ?? "",
            numbers: Self.decode([DialString].self, row[2].string) ?? [],
            message: Self.decode(CallMessage.self, row[3].string) ?? .text(""),
            confirmationCode: row[4].string, selfDelete: row[5].int == 1,
            deadline: Date(timeIntervalSince1970: row[7].double ?? 0),
            warnings: Self.decode([String].self, row[11].string) ?? [])
        let attempts = try database.query(
            "SELECT number, line, dialled, started, ended, outcome, reason FROM attempts WHERE request = ? ORDER BY number",
            [.integer(id)]).map { a in
                CallAttempt(number: Int(a[0].int ?? 0), line: Int(a[1].int ?? 0), dialled: a[2].string ?? "",
                            started: Date(timeIntervalSince1970: a[3].double ?? 0),
                            ended: a[4].double.map { Date(timeIntervalSince1970: $0) },
                            outcome: a[5].string.flatMap(CallAttempt.Outcome.init) ?? .failed, reason: a[6].string ?? "")
            }
        return CallRecord(id: id, request: request, created: Date(timeIntervalSince1970: row[6].double ?? 0),
                          status: row[8].string.flatMap(RequestStatus.init) ?? .failed,
                          nextAttempt: Date(timeIntervalSince1970: row[9].double ?? 0),
                          reason: row[10].string ?? "", attempts: attempts)
    }


    private static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String?) -> T? {
        text.flatMap { try? JSONDecoder().decode(type, from: Data($0.utf8)) }
    }

}
