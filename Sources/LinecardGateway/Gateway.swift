import AlsaCard
import DahdiCard
import Foundation
import Hummingbird
import HummingbirdCore
import Linecard
import LinecardCards
import LinecardDSP
import LinecardEngine
import Logging
import NIOCore
import ServiceLifecycle
import NumberProvider
import SimulatedCard
import Synchronization

/// The gateway daemon: a card, the durable call queue, the dialer working the queue on the
/// card's FXO lines, and the HTTP server taking requests.
public final class Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let card: Card
    /// The simulated card behind `card`, when that is what the gateway drives.
    public let simulatedCard: SimulatedCard?
    /// The card as opened, with its ISDN call control when it has spans.
    let opened: OpenedCard
    /// The ports that place calls.
    public let callingLines: [Int]
    let queue: any CallQueue
    /// The queue, when several boxes share it (PostgreSQL).
    let shared: PostgresCallQueue?
    let metrics: GatewayMetrics
    let dialer: Dialer
    let interface: SimpleCallInterface
    let inbox: SMSInbox
    let files: AllowedFiles
    let logger: Logger
    /// Held while the gateway lives: one gateway per data folder.
    private let lock: DataFolderLock
    private let connections = GatewayHTTPChannel.Connections()
    private let started = Date()
    /// Set once the server listens: an I/O error before that is a failure to listen.
    private let listening = Atomic<Bool>(false)

    public init(configuration: GatewayConfiguration, logger: Logger = Logger(label: "linecard.gateway")) throws {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        let data = URL(fileURLWithPath: configuration.dataDirectory)
        do { try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true) } catch {
            throw ConfigurationError(message: "cannot create the data directory \(data.path): \(error.localizedDescription)")
        }
        // Before the queue is opened: opening it recovers the calls of a gateway that died.
        lock = try DataFolderLock(folder: data.path)
        files = try AllowedFiles(dataDirectory: data.path, extra: configuration.allowedFileFolders)
        switch configuration.queue.kind {
        case .sqlite:
            queue = try SQLiteCallQueue(path: data.appendingPathComponent("calls.sqlite").path, policy: configuration.retry)
            shared = nil
        case .postgres:
            let settings = configuration.queue
            let postgres = PostgresCallQueue(address: try settings.address(), password: try settings.password(),
                                             gatewayId: configuration.gatewayId, policy: configuration.retry,
                                             leaseSeconds: settings.leaseSeconds, timeoutSeconds: settings.timeoutSeconds, logger: logger)
            queue = postgres
            shared = postgres
        }
        inbox = try SMSInbox(path: data.appendingPathComponent("sms.sqlite").path)
        do { opened = try configuration.card.open() } catch {
            throw ConfigurationError(message: "card.kind \"\(configuration.card.kind)\": \(error)")
        }
        card = opened.card
        simulatedCard = opened.simulated
        if opened.simulated != nil {
            callingLines = configuration.callingLines
        } else {
            callingLines = card.channels.filter { $0.kind == .fxo || $0.kind == .clear || $0.kind == .isdnBearer }.map(\.port)
            guard !callingLines.isEmpty else {
                opened.shutdown()
                throw ConfigurationError(message: "card.kind \"\(configuration.card.kind)\": no FXO, ISDN B- or clear channel to call on (\(card.channels.map { "port \($0.port): \($0.kind.rawValue)" }.joined(separator: ", ")))")
            }
        }
        metrics = GatewayMetrics(lines: callingLines, spans: opened.isdn?.status.map(\.name) ?? [])
        dialer = try Dialer(card: card, lines: callingLines, queue: queue, configuration: configuration, files: files,
                            metrics: metrics, logger: logger)
        interface = SimpleCallInterface(configuration: configuration, files: files)
    }

    /// Serves HTTP and works the queue until SIGTERM or SIGINT (or until the task is
    /// cancelled). On a signal the server stops taking requests, calls in progress get the
    /// grace period to finish, and whatever is left stays queued for the next start. No call
    /// is placed before the server listens; if it cannot listen, this throws `ListenError`.
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        defer { shared?.close() }
        if let shared {
            // Before the first request: the schema, and the calls this box left unfinished.
            do { try await shared.open() } catch {
                opened.shutdown()
                throw ConfigurationError(message: "queue: \(error)")
            }
            logger.info("call queue: \(shared.address), shared as gateway \(configuration.gatewayId)")
        }
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: AccessPolicy(networks: configuration.allowedNetworks.compactMap(NetworkRange.init),
                                            token: configuration.token, metrics: metrics))
        router.add(middleware: JSONInterfacePolicy(configuration: configuration))
        router.add(middleware: MethodCheck(routes: GatewayRoutes.methods))
        router.add(middleware: QueueAvailability())
        GatewayRoutes(gateway: self).install(on: router)
        let (limits, reserve) = Self.connectionLimits(configuration.limits, logger: logger)
        let connections = self.connections
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                GatewayHTTPChannel(responder: responder, connections: connections, limits: limits)
            },
            configuration: .init(address: .hostname(configuration.address, port: configuration.port), serverName: "linecard-gateway",
                                 availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections + reserve)),
            // Services stop in reverse order: the shared queue's leases are renewed until the
            // dialler's last call has ended.
            services: (shared.map { [SharedQueueService(queue: $0, dialer: dialer, leaseSeconds: configuration.queue.leaseSeconds, logger: logger)] } ?? [])
                + [DialerService(dialer: dialer, grace: configuration.gracePeriod, logger: logger)],
            onServerRunning: { [logger, dialer] channel in
                self.listening.store(true, ordering: .releasing)
                let port = channel.localAddress?.port ?? 0
                logger.info("listening on \(self.configuration.address):\(port)")
                dialer.startCalling()
                onListening(port)
            },
            logger: logger)
        defer { opened.shutdown() }
        do {
            try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
        } catch let error as IOError where !listening.load(ordering: .acquiring) {
            throw ListenError(address: configuration.address, port: configuration.port, error: error)
        }
    }

    /// The connection cap and its reserve, lowered to what the process's descriptor limit
    /// leaves after the card, the database, files and threads, so that connections can never
    /// take the last descriptors.
    static func connectionLimits(_ limits: GatewayConfiguration.Limits, logger: Logger) -> (GatewayConfiguration.Limits, reserve: Int) {
        var limits = limits
        var available = rlimit()
        guard getrlimit(RLIMIT_NOFILE_RESOURCE, &available) == 0 else { return (limits, GatewayConfiguration.Limits.reserveConnections) }
        let budget = max(2, Int(clamping: available.rlim_cur) - 96)
        let reserve = min(GatewayConfiguration.Limits.reserveConnections, max(1, budget / 8))
        if limits.maxConnections + reserve > budget {
            limits.maxConnections = max(1, budget - reserve)
            logger.warning("limits.maxConnections lowered to \(limits.maxConnections): the process may open \(available.rlim_cur) descriptors")
        }
        return (limits, reserve)
    }

    // MARK: Used by the routes

    /// Accepts a request in callreqHandler's parameters.
    func submit(_ form: [String: String]) async throws -> (Int64, NewCallRequest) {
        let request = try await interface.request(from: form)
        return (try await submit(request), request)
    }

    /// Queues a request whose every part has been checked; returns its ReqId. On a shared
    /// queue an audio file is read now, on the box that has it, and kept with the request.
    func submit(_ request: NewCallRequest) async throws -> Int64 {
        if let unavailable = shared?.unavailable {
            throw RequestError(status: 503, message: "the call queue cannot take requests now: \(unavailable)")
        }
        var audio: Data?
        if queue.keepsAudio, case .audioFile = request.message {
            audio = try await BlockingWork.run("reading the request's audio file", timeout: configuration.limits.fileTimeout) {
                try self.dialer.preparedMessage(request.message)
            }
        }
        let id: Int64
        do { id = try await queue.submit(request, audio: audio) } catch {
            logger.error("cannot store a call request: \(error)")
            throw RequestError(status: 503, message: "the call queue cannot store the request: \(error)")
        }
        for warning in request.warnings { logger.warning("request \(id): \(warning)") }
        metrics.requestAccepted()
        dialer.wake()
        return id
    }

    /// Stores an SMS from the webhook and acts on it as configured; returns what was done.
    func receive(_ sms: IncomingSMS, hook: SMSWebhookConfiguration) async throws -> String {
        guard try await inbox.store(sms) else { return "duplicate: already received" }
        logger.info("SMS \(sms.id) for \(sms.e164) received (\(sms.content.count) characters)")
        switch hook.action {
        case .store:
            return "stored"
        case .call:
            let text = String(hook.speechText(for: sms).prefix(configuration.limits.maxTextLength))
            // The number was checked when the configuration was read.
            guard let number = hook.callNumber else { return "stored" }
            let request = NewCallRequest(info: "SMS \(sms.id) for \(sms.e164)", number: number, message: .text(text),
                                         deadline: try interface.deadline(firstOccurrenceMinutes: nil, parameter: "firstocc"))
            let id = try await submit(request)
            try await inbox.record(action: "call request \(id)", for: sms.id)
            return "call request \(id)"
        case .forward:
            guard let url = hook.forwardURL else { return "stored" }
            let inbox = self.inbox
            Task {
                let result = await SMSWebhookConfiguration.forward(sms, to: url)
                try? await inbox.record(action: result, for: sms.id)
            }
            return "forwarding"
        }
    }

    func remove(_ id: Int64) async throws -> Bool {
        guard try await queue.remove(id) else { return false }
        await dialer.cancel(request: id)
        dialer.removeAudio(for: id)
        return true
    }

    func lines() -> [LineView] {
        let busy = dialer.busyLines()
        let spans = opened.isdn?.status ?? []
        return callingLines.map { line in
            let channel = card.channels[line]
            let span = spans.first { $0.bChannels.contains { $0.port == line } }
            return LineView(line: line, name: card.engine.ports[line].name, state: channel.state.rawValue, request: busy[line],
                            span: span?.name, dChannelUp: span?.dChannelUp)
        }
    }

    /// The boxes sharing the queue (this one alone on SQLite).
    func boxes() async throws -> [GatewayView] {
        if let shared { return try await shared.boxes() }
        return [GatewayView(id: configuration.gatewayId, started: started, lastHeartbeat: Date(), secondsSinceHeartbeat: 0,
                            lines: callingLines.count, freeLines: dialer.freeLines, alive: true, calls: dialer.activeCalls)]
    }

    func metricsText() async throws -> String {
        // This box's lines are worth showing while the shared database is away.
        let counts: [RequestStatus: Int]?
        do { counts = try await queue.counts() } catch is QueueUnavailable { counts = nil }
        return metrics.render(queue: counts, engine: card.engine.statistics, spans: opened.isdn?.status ?? [])
    }
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_RESOURCE = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#endif

/// The server could not listen (most often: another program has the port).
public struct ListenError: Error, CustomStringConvertible {
    public let address: String
    public let port: Int
    let error: IOError

    public var description: String {
        let why = error.errnoCode == EADDRINUSE
            ? "the address is in use (another program listens on port \(port): stop it, or choose another port with --port or \"port\")"
            : error.errnoCode == EACCES ? "permission denied (ports below 1024 need privileges)" : "\(error)"
        return "cannot listen on \(address):\(port): \(why)"
    }
}

/// Keeps this box's place in a shared queue: renews its leases and heartbeat, recovers the
/// calls of boxes whose leases ran out, and passes the other boxes' notices to the dialler.
struct SharedQueueService: Service {
    let queue: PostgresCallQueue
    let dialer: Dialer
    let leaseSeconds: Double
    let logger: Logger

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in queue.events() {
                        switch event {
                        case .workArrived: dialer.wake()
                        case .removed(let id): await dialer.cancel(request: id)
                        }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await queue.heartbeat(lines: dialer.lines.count, freeLines: dialer.freeLines)
                            let recovered = try await queue.recoverExpiredLeases()
                            if recovered > 0 {
                                logger.warning("recovered \(recovered) calls whose gateway stopped renewing its lease")
                                dialer.wake()
                            }
                        } catch {
                            // Logged once by the queue when the database goes; retried each round.
                        }
                        try? await Task.sleep(for: .milliseconds(Int(leaseSeconds * 1000 / 3)))
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

/// Runs the dialer as a service beside the HTTP server, so that a signal stops both in order.
struct DialerService: Service {
    let dialer: Dialer
    let grace: Double
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            await dialer.run()
            // A box without calling lines (one that only takes requests for a shared queue)
            // has nothing to run, but a service that returns early stops the gateway.
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            let active = dialer.activeCalls
            logger.info("stopping: no new calls; \(active) in progress get \(grace) s to finish")
            dialer.stop()
            Task {
                try? await Task.sleep(for: .milliseconds(Int(grace * 1000)))
                if dialer.activeCalls > 0 {
                    logger.warning("grace period over: hanging up \(dialer.activeCalls) calls; their requests stay queued")
                }
                await dialer.cutCalls()
            }
        }
    }
}
