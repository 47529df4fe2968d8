import Foundation
import XCTest

/// A PostgreSQL server of the tests' own, from Debian's package: a cluster in a temporary
/// folder on a free loopback port, made when a test first asks for it and stopped when the
/// test process exits. Each test gets a database of its own.
final class PostgresServer: @unchecked Sendable {
    let port: Int
    let folder: URL
    private let binaries: URL
    /// Root may not run the server: it runs as Debian's `postgres` user then.
    private let runAs: [String]

    nonisolated(unsafe) private static var running: PostgresServer?
    private static let lock = NSLock()

    /// The one server of this test process.
    static func shared() throws -> PostgresServer {
        lock.lock()
        defer { lock.unlock() }
        if let running { return running }
        let server = try PostgresServer()
        running = server
        atexit { PostgresServer.running?.stopForGood() }
        return server
    }

    private init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }).first else {
            throw NSError(domain: "PostgresServer", code: 1, userInfo: [NSLocalizedDescriptionKey:
                "no PostgreSQL server in /usr/lib/postgresql: install Debian's postgresql package (make test does)"])
        }
        binaries = URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
        runAs = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []
        folder = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linecard-pg-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if getuid() == 0 { try Self.run(["/bin/chown", "postgres:postgres", folder.path]) }
        port = try Self.freePort()
        try Self.run(runAs + [binaries.appendingPathComponent("initdb").path, "-D", folder.appendingPathComponent("data").path,
                              "-A", "trust", "-U", "linecard", "-E", "UTF8", "--no-sync"])
        try start()
    }

    /// `postgres://linecard@127.0.0.1:PORT/NAME`, for a database made now.
    func createDatabase(_ name: String = "t\(UUID().uuidString.prefix(8).lowercased())") throws -> String {
        try Self.run([binaries.appendingPathComponent("createdb").path, "-h", "127.0.0.1", "-p", String(port), "-U", "linecard", name])
        return "postgres://linecard@127.0.0.1:\(port)/\(name)"
    }

    func start() throws {
        try Self.run(runAs + [binaries.appendingPathComponent("pg_ctl").path, "-D", folder.appendingPathComponent("data").path,
                              "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "30", "-o",
                              "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                              "start"])
    }

    /// Stops the server at once, as a crash or a lost network would look to the gateways.
    func stop() throws {
        try Self.run(runAs + [binaries.appendingPathComponent("pg_ctl").path, "-D", folder.appendingPathComponent("data").path,
                              "-m", "immediate", "-w", "stop"])
    }

    private func stopForGood() {
        try? stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs a command to its end; its output (to a file: the server it starts keeps the
    /// descriptors it inherits) is the error's text when it fails.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let log = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linecard-pg-cmd-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, &argv, environ)
        guard spawned == 0 else {
            throw NSError(domain: "PostgresServer", code: Int(spawned), userInfo: [NSLocalizedDescriptionKey: "cannot run \(arguments[0]): \(String(cString: strerror(spawned)))"])
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw NSError(domain: "PostgresServer", code: Int(status), userInfo: [NSLocalizedDescriptionKey:
                "\(arguments.joined(separator: " ")) failed: \(output)"])
        }
        return output
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw NSError(domain: "PostgresServer", code: 2, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
