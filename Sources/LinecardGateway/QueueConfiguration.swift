import Foundation

/// Where the gateway keeps its call queue: `sqlite`, a file in the data folder (one box), or
/// `postgres`, a database any number of boxes share.
public struct QueueConfiguration: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case sqlite
        case postgres
    }

    public var kind = Kind.sqlite
    /// The PostgreSQL database, `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=disable|require]`.
    public var url: String?
    /// A file whose first line is the database password. Without it the password comes from
    /// `LINECARD_QUEUE_PASSWORD` (or `PGPASSWORD`); never from the URL or the command line.
    public var passwordFile: String?
    /// Seconds a box's claim on a call lasts unless renewed; a box renews its claims three
    /// times a lease, and a claim whose lease ran out (its box died) is recovered by any box.
    public var leaseSeconds = 30.0
    /// Seconds a database operation may take before the box counts the database as lost.
    public var timeoutSeconds = 5.0

    public init() {}

    /// The database `url` names, checked.
    public func address() throws -> PostgresAddress {
        guard let url else { throw ConfigurationError(message: "queue.url is missing (postgres://USER@HOST:PORT/DATABASE)") }
        return try PostgresAddress(url)
    }

    /// The password, from `passwordFile` or the environment.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let passwordFile {
            guard let data = FileManager.default.contents(atPath: passwordFile) else {
                throw ConfigurationError(message: "queue.passwordFile: cannot read \(passwordFile)")
            }
            return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        }
        return environment["LINECARD_QUEUE_PASSWORD"] ?? environment["PGPASSWORD"]
    }
}

/// A PostgreSQL server and database, from a `postgres://` URL checked once where it is read.
public struct PostgresAddress: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var port: Int
    public var database: String
    public var requiresTLS: Bool

    public init(_ text: String) throws {
        func bad(_ why: String) -> ConfigurationError {
            ConfigurationError(message: "queue.url \"\(text)\": \(why); write postgres://USER@HOST:PORT/DATABASE")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme else { throw bad("not a URL") }
        guard scheme == "postgres" || scheme == "postgresql" else { throw bad("the scheme must be postgres") }
        guard components.password == nil else {
            throw ConfigurationError(message: "queue.url: a password in the URL would show in every log and process list; put it in queue.passwordFile or LINECARD_QUEUE_PASSWORD")
        }
        guard let user = components.user, !user.isEmpty else { throw bad("the user is missing") }
        guard let host = components.host, !host.isEmpty else { throw bad("the host is missing") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw bad("the database name is missing") }
        self.user = user
        self.host = host
        port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw bad("the port must be from 1 to 65535") }
        self.database = database
        requiresTLS = false
        for item in components.queryItems ?? [] {
            switch (item.name, item.value) {
            case ("sslmode", "disable"): requiresTLS = false
            case ("sslmode", "require"): requiresTLS = true
            default: throw bad("\(item.name)=\(item.value ?? "") is not understood (only sslmode=disable or sslmode=require)")
            }
        }
    }

    public var description: String { "postgres://\(user)@\(host):\(port)/\(database)" }
}
