import ArgumentParser
import Foundation
import LinecardCards
import LinecardGateway
import Logging
#if canImport(Glibc)
import Glibc
private let RLIMIT_NOFILE_VALUE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif

/// `linecard-gateway`: places calls for other programs over HTTP.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linecard-gateway",
        abstract: "Place calls for other programs over HTTP: the simple call interface (Voicent-compatible) and a JSON API.",
        discussion: """
            Without a configuration file the gateway drives the simulated card (four FXO lines to a
            model exchange) and listens on 127.0.0.1:8155. Requests are kept in
            DATA/calls.sqlite and survive a restart; one gateway at a time may use a data folder.
            Several boxes share one queue in PostgreSQL with "queue": {"kind": "postgres", "url":
            "postgres://USER@HOST:PORT/DB"} (the password from "passwordFile" or
            LINECARD_QUEUE_PASSWORD) and a "gatewayId" of their own each: a request sent to any box
            is called by whichever has a free line, and a box that dies has its calls recovered
            by the others (docs/SCALING.md).
            Audio files and call lists are read only from DATA/files (a relative path is taken
            from there) and the folders in "allowedFileFolders". Connections, request sizes and
            timeouts are bounded by "limits"; the JSON interface takes only application/json
            and refuses other web pages' requests unless "allowedOrigins" names them. On a DAHDI card or ALSA devices, set
            "card": {"kind": "dahdi", "channels": [1, 2]} or {"kind": "alsa", "devices": [...]}
            in the configuration (on DAHDI, the B-channels of a span with a D-channel are ISDN
            lines). "card": {"isdn": "e1"} (t1, bri, bri-ptmp) makes the simulated card an ISDN
            span instead, in real time (docs/ISDN.md). docs/GATEWAY.md describes the configuration keys, the
            endpoints and the call outcomes.

            Example:
              linecard-gateway --config /etc/linecard/gateway.json
              curl -d phoneno=200 -d 'txt=Hello there' http://127.0.0.1:8155/ocall/callreqHandler.jsp
            """)

    @Option(name: .long, help: "A JSON configuration file (docs/GATEWAY.md lists its keys).")
    var config: String?

    @Option(name: .long, help: "Listen on this address (overrides the file).")
    var address: String?

    @Option(name: .long, help: "Listen on this port; 0 picks a free one (overrides the file).")
    var port: Int?

    @Option(name: .long, help: "Keep the call queue and prepared audio here (overrides the file).")
    var data: String?

    @Option(name: .long, help: "The simulated card's clock: paced (real time) or virtual (as fast as possible).")
    var clock: String?

    @Option(name: .long, help: "This box's name among the boxes sharing a queue (overrides the file; default: the host name).")
    var gatewayId: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(name: .long, help: "Print the configuration in effect and exit.")
    var printConfiguration = false

    func run() async throws {
        var settings = GatewayConfiguration()
        do {
            if let config { settings = try GatewayConfiguration.load(config) }
            if let address { settings.address = address }
            if let port { settings.port = port }
            if let data { settings.dataDirectory = data }
            if let gatewayId { settings.gatewayId = gatewayId }
            if let clock {
                guard let chosen = CardSpecification.Clock(rawValue: clock) else { throw ValidationError("--clock must be paced or virtual, not \(clock)") }
                settings.card.clock = chosen
            }
            try settings.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        if printConfiguration {
            print("listening on \(settings.address):\(settings.port); data in \(settings.dataDirectory)")
            switch settings.card.kind {
            case .dahdi:
                print("card: dahdi, channels \(settings.card.channels.map { "\($0)" } ?? "all configured") (calling on the FXO, ISDN B- and clear ones), country \(settings.card.country), block \(settings.card.blockSize)")
            case .alsa:
                print("card: alsa, devices \(settings.card.devices.joined(separator: ", ")) (each a clear line), country \(settings.card.country), block \(settings.card.blockSize)")
            case .simulated:
                let lines = settings.card.isdn.map { "an ISDN \($0.rawValue) span, \($0.bearerChannels.count) B-channels" } ?? "\(settings.card.fxoPorts) FXO lines"
                print("card: \(settings.card.kind), \(lines) (calling on \(settings.callingLines)), country \(settings.card.country), clock \(settings.card.clock)")
            }
            switch settings.queue.kind {
            case .sqlite:
                print("queue: sqlite, \(settings.dataDirectory)/calls.sqlite (this box alone); gateway id \(settings.gatewayId)")
            case .postgres:
                print("queue: postgres, \(settings.queue.url ?? ""), shared as gateway \(settings.gatewayId); leases \(settings.queue.leaseSeconds) s, database operations within \(settings.queue.timeoutSeconds) s; password \(settings.queue.passwordFile.map { "from \($0)" } ?? "from LINECARD_QUEUE_PASSWORD or PGPASSWORD, if set")")
            }
            let rounds = settings.retry.confirmRounds == 0 ? "until firstocc" : "\(settings.retry.confirmRounds) rounds at most"
            print("retry: \(settings.retry.attempts) attempts, \(settings.retry.interval) s apart; call-till-confirm lists \(rounds); firstocc default \(settings.defaultFirstOccurrence) min")
            print("allowed networks: \(settings.allowedNetworks.joined(separator: ", "))\(settings.token == nil ? "" : "; token set")")
            print("files read from: \(settings.dataDirectory)/files\((settings.allowedFileFolders ?? []).map { ", \($0)" }.joined())")
            print("JSON interface: host names \((["the listen address", "IP addresses", "localhost"] + settings.hostNames).joined(separator: ", ")); cross-origin requests from \(settings.allowedOrigins.isEmpty ? "no origin" : settings.allowedOrigins.joined(separator: ", "))")
            let l = settings.limits
            print("limits: \(l.maxConnections) connections, request head within \(l.headerTimeoutSeconds) s, body within \(l.bodyTimeoutSeconds) s, \(l.maxRequestBytes) bytes a request, audio up to \(l.maxAudioSeconds) s, file reads within \(l.fileTimeoutSeconds) s")
            return
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        raiseDescriptorLimit()
        let gateway: Gateway
        do { gateway = try Gateway(configuration: settings) } catch {
            FileHandle.standardError.write(Data("linecard-gateway: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let address = settings.address
        do {
            try await gateway.run { port in
                // Scripts (and the tests) read the port from this line.
                FileHandle.standardOutput.write(Data("linecard-gateway listening on http://\(address):\(port)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("linecard-gateway: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Every connection is a descriptor: take all the process may have (the soft limit up to
    /// the hard one), so that the connection cap, not the system, decides.
    private func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(RLIMIT_NOFILE_VALUE, &limit)
    }
}
