import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

/// A `linecard-gateway` process on the simulated card in virtual time, on a free port, with
/// its own data folder: the tests talk to it over real HTTP, as clients do.
final class RunningGateway: @unchecked Sendable {
    let data: URL
    let configuration: URL
    private(set) var process: Process?
    private(set) var port = 0
    private var output = Pipe()
    private(set) var log = ""
    /// Runs the gateway through this program (e.g. `prlimit --nofile=…`), when set.
    private let launcher: [String]

    nonisolated(unsafe) static let defaultSettings: [String: Any] = [
        "port": 0,
        "card": ["clock": "virtual"],
        "retry": ["attempts": 2, "interval": 0.3],
        "ringTimeout": 30,
        "confirmationTimeout": 3,
        "gracePeriod": 2,
    ]

    init(settings: [String: Any] = [:], data: URL? = nil, launcher: [String] = []) throws {
        self.launcher = launcher
        let folder = data ?? FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        self.data = folder
        configuration = folder.appendingPathComponent("gateway.json")
        var all = Self.defaultSettings
        for (key, value) in settings { all[key] = value }
        all["dataDirectory"] = folder.appendingPathComponent("data").path
        try JSONSerialization.data(withJSONObject: all).write(to: configuration)
        try start()
    }

    /// Starts the process and waits for the line that gives its port.
    func start() throws {
        let process = Process()
        let arguments = ["--config", configuration.path, "--log-level", "info"]
        if let program = launcher.first {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = launcher.dropFirst() + [Self.executable.path] + arguments
        } else {
            process.executableURL = Self.executable
            process.arguments = arguments
        }
        output = Pipe()
        let errors = data.appendingPathComponent("gateway.log")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        self.process = process
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            if let range = text.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":").last ?? "") ?? 0
                return
            }
        }
        throw NSError(domain: "linecard-gateway", code: 1,
                      userInfo: [NSLocalizedDescriptionKey: "the gateway did not start: \(text) \(logText())"])
    }

    func logText() -> String {
        (try? String(contentsOf: data.appendingPathComponent("gateway.log"), encoding: .utf8)) ?? ""
    }

    /// Sends a signal and waits for the process to end; returns its exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        guard let process, process.isRunning else { return process?.terminationStatus ?? 0 }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        self.process = nil
        return process.terminationStatus
    }

    deinit {
        stop(signal: SIGKILL)
        try? FileManager.default.removeItem(at: data)
    }

    // MARK: HTTP

    struct Reply {
        let status: Int
        let body: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) }
    }

    func request(_ method: String, _ path: String, body: Data? = nil, contentType: String? = nil,
                 headers: [String: String] = [:], host: String = "127.0.0.1") async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://\(host):\(port)\(path)")!)
        request.httpMethod = method
        request.httpBody = body
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: String(decoding: data, as: UTF8.self))
    }

    /// POSTs form parameters, encoded as Python's urlencode does.
    func post(_ path: String, _ form: [String: String]) async throws -> Reply {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        return try await request("POST", path, body: Data(body.utf8), contentType: "application/x-www-form-urlencoded")
    }

    func json(_ method: String, _ path: String, _ object: Any? = nil) async throws -> Reply {
        try await request(method, path, body: try object.map { try JSONSerialization.data(withJSONObject: $0) },
                          contentType: object == nil ? nil : "application/json")
    }

    /// The JSON interface's view of a call.
    func call(_ id: String) async throws -> [String: Any]? {
        let reply = try await json("GET", "/api/v1/calls/\(id)")
        return reply.status == 404 ? nil : reply.json as? [String: Any]
    }

    /// Waits until call `id` is made or failed (or gone); returns its JSON.
    func waitUntilFinished(_ id: String, seconds: Double = 60) async throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard let call = try await call(id) else { return nil }
            if let status = call["status"] as? String, status == "made" || status == "failed" { return call }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await call(id)
    }

    // MARK: The reference client

    /// Runs the Python 3 port of the reference client: `voicent.py PORT METHOD ARGS...`.
    func python(_ arguments: String...) throws -> Any? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.client.path, String(port)] + arguments
        let pipe = Pipe(), errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "voicent.py", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: String(decoding: err, as: UTF8.self)])
        }
        return try JSONSerialization.jsonObject(with: out, options: .fragmentsAllowed)
    }

    /// Runs the gateway with a configuration file holding `text`, as a user would, and
    /// returns its exit status and everything it printed (for configurations that must fail).
    /// The process's id while it runs.
    var pid: Int32 { process?.processIdentifier ?? 0 }

    /// CPU time (user and system) the process has used, in seconds.
    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command: state is field 3, utime 14 and stime 15 of the whole line.
        let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Descriptors the process has open.
    func openDescriptors() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
    }

    /// The gateway's files folder (DATA/files), where requests may name audio files and call lists.
    var files: URL { data.appendingPathComponent("data/files") }

    static func run(configuration text: String) throws -> (status: Int32, output: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gwconf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("g.json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = executable
        process.arguments = ["--config", file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, out)
    }

    static var executable: URL { Bundle.main.bundleURL.appendingPathComponent("linecard-gateway") }
    static var client: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("voicent.py") }
}
