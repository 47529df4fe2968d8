import CSQLite
import Foundation

/// What SQLite said when a statement failed.
public struct DatabaseError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// One SQLite connection, used from its own serial dispatch queue only (`run`, or `queue`
/// directly): SQLite's connection is not thread-safe, and the queue keeps blocking I/O off
/// the callers' threads.
final class SQLiteDatabase: @unchecked Sendable {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String
    let queue: DispatchQueue

    /// A value to bind or read back.
    enum Value {
        case integer(Int64), real(Double), text(String), null
    }

    init(path: String) throws {
        self.path = path
        queue = DispatchQueue(label: "linecard.sqlite.\(URL(fileURLWithPath: path).lastPathComponent)")
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw DatabaseError(message: "cannot open the call queue \(path): \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        // Durability first: the write-ahead log, synced on every commit, so that a ReqId
        // handed to a client survives a power cut.
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw DatabaseError(message: "\(message) (in \(sql.prefix(60)))")
        }
    }

    /// Runs `sql` with `arguments` and returns every row.
    @discardableResult
    func query(_ sql: String, _ arguments: [Value] = []) throws -> [[Value]] {
        let statement = try prepared(sql)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        for (i, argument) in arguments.enumerated() {
            let index = Int32(i + 1)
            switch argument {
            case .integer(let v): sqlite3_bind_int64(statement, index, v)
            case .real(let v): sqlite3_bind_double(statement, index, v)
            case .text(let v):
                // By length, so that a NUL inside the text is stored, not the end of it.
                _ = v.withCString { sqlite3_bind_text(statement, index, $0, Int32(v.utf8.count), Self.transient) }
            case .null: sqlite3_bind_null(statement, index)
            }
        }
        var rows: [[Value]] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw DatabaseError(message: "\(lastError) (in \(sql.prefix(60)))") }
            var row: [Value] = []
            for column in 0..<sqlite3_column_count(statement) {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(statement, column)))
                case SQLITE_NULL: row.append(.null)
                default:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let text = sqlite3_column_text(statement, column).map {
                        String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
                    } ?? ""
                    row.append(.text(text))
                }
            }
            rows.append(row)
        }
        return rows
    }

    /// Runs `body` on the database's queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in one transaction: committed (and synced) when it returns, rolled back
    /// when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    private var lastError: String { String(cString: sqlite3_errmsg(handle)) }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw DatabaseError(message: "\(lastError) (in \(sql.prefix(60)))")
        }
        statements[sql] = statement
        return statement
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

extension SQLiteDatabase.Value {
    var int: Int64? { if case .integer(let v) = self { v } else if case .real(let v) = self { Int64(v) } else { nil } }
    var double: Double? { if case .real(let v) = self { v } else if case .integer(let v) = self { Double(v) } else { nil } }
    var string: String? { if case .text(let v) = self { v } else { nil } }
}
