import Dispatch
import Foundation
import NumberProvider

/// SMS received through the webhook, kept in `DATA/sms.sqlite`. The service may deliver one
/// message more than once; its id makes the second delivery a no-op.
final class SMSInbox: Sendable {
    private let database: SQLiteDatabase

    struct Entry: Encodable, Sendable {
        let id: Int64
        let e164: String
        let sender: String
        let content: String
        let received: Date
        /// What the gateway did: stored, a call request id, or the forward's outcome.
        let action: String
    }

    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS sms(
                id INTEGER PRIMARY KEY, e164 TEXT NOT NULL, sender TEXT NOT NULL, content TEXT NOT NULL,
                received REAL NOT NULL, action TEXT NOT NULL DEFAULT 'stored')
            """)
    }

    /// Stores `sms`; false when a message with its id was stored before.
    func store(_ sms: IncomingSMS) async throws -> Bool {
        try await database.run {
            try self.database.query("INSERT OR IGNORE INTO sms(id, e164, sender, content, received) VALUES(?, ?, ?, ?, ?)",
                                    [.integer(sms.id), .text(sms.e164), .text(sms.sender), .text(sms.content),
                                     .real(Date().timeIntervalSince1970)])
            return self.database.changes > 0
        }
    }

    func record(action: String, for id: Int64) async throws {
        _ = try await database.run { try self.database.query("UPDATE sms SET action = ? WHERE id = ?", [.text(action), .integer(id)]) }
    }

    func list(limit: Int = 100) async throws -> [Entry] {
        try await database.run {
            try self.database.query("SELECT id, e164, sender, content, received, action FROM sms ORDER BY received DESC LIMIT ?",
                                    [.integer(Int64(limit))]).map { r in
                Entry(id: r[0].int ?? 0, e164: r[1].string ?? "", sender: r[2].string ?? "", content: r[3].string ?? "",
                      received: Date(timeIntervalSince1970: r[4].double ?? 0), action: r[5].string ?? "")
            }
        }
    }

}
