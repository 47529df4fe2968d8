import Foundation
import LinecardDSP
import LinecardEngine
import Synchronization

/// A card with a `CallChannel` on every port: it owns the engine and routes each engine
/// event to its port's channel (on the engine's dispatcher thread, never the tick).
///
/// After the card's own ports come `localChannels` local ports (kind `.local`): channels with
/// no line, on which inbound services run when a local call or a transfer reaches them.
public final class Card: Sendable {
    public let engine: Engine
    public let channels: [CallChannel]
    /// The inbound services this card can start (see `bind(_:)` and the transfers).
    public let services: InboundServices
    private let directory: ChannelDirectory
    private let stateOfChannels: CardState
    private let bindings = Mutex<[ServiceBinding]>([])
    private let dispatchers = Mutex<Set<Int>>([])

    /// Opens every port of `backend` and starts its engine. `callControl` carries the calls of
    /// the card's ISDN B-channels (`LinecardISDN`'s `IsdnStack`); without it, a card with
    /// B-channel ports cannot be opened.
    public init(backend: any CardBackend, engine configuration: EngineConfiguration = EngineConfiguration(),
                channels channelConfiguration: ChannelConfiguration = ChannelConfiguration(), localChannels: Int = 4,
                callControl: (any CallControl)? = nil) throws {
        let ported: any CardBackend = localChannels > 0 ? LocalPortsBackend(card: backend, count: localChannels) : backend
        let engine = try Engine(card: ported, configuration: configuration)
        self.engine = engine
        let services = InboundServices()
        self.services = services
        var holdClock: (@Sendable () -> ClockHold)?
        if configuration.clock == .virtual { holdClock = { @Sendable in engine.holdClock() } }
        // The local ports are the ones `LocalPortsBackend` adds after the card's own.
        let directory = ChannelDirectory(services: services, localPorts: backend.ports.count..<ported.ports.count, holdClock: holdClock)
        self.directory = directory
        let state = CardState(ports: ported.ports.count, holdClock: holdClock)
        let channels = try ported.ports.map { port in
            CallChannel(port: port, signalling: try signalling(for: port, callControl: callControl), engine: engine, configuration: channelConfiguration,
                        directory: directory, state: ChannelState(card: state, port: port.index))
        }
        self.channels = channels
        stateOfChannels = state
        directory.set(channels)
        for port in ported.ports { try engine.open(port: port.index) }
        try engine.start { event in
            let port = Int(event.port)
            if port >= 0, port < channels.count { channels[port].handle(event) }
        }
    }

    /// Binds a registered service to what starts it. The bound port then belongs to the card:
    /// it waits for calls there and hands each to the service.
    public func bind(_ binding: ServiceBinding) throws {
        _ = try services.handler(binding.service)
        let ports: [Int]
        switch binding {
        case .incomingCalls(let port, _):
            let channel = try self.channel(port)
            guard channel.signalling.capabilities.takesIncomingCalls else {
                throw CallError.error("incoming calls can be bound on a port whose line brings them (an FXO line or an ISDN B-channel); port \(port) is \(channel.signalling.name)")
            }
            if bindings.withLock({ $0.contains { if case .incomingCalls(port, _) = $0 { true } else { false } } }) {
                throw CallError.error("incoming calls on port \(port) are already bound to a service")
            }
            ports = [port]
        case .dialledNumber(let number, let port, _):
            _ = try DialString.checked(number)
            if let port {
                let channel = try self.channel(port)
                guard channel.signalling.capabilities.bringsDialledNumbers else {
                    throw CallError.error("dialled numbers can be bound on an FXS port or an ISDN B-channel; port \(port) is \(channel.signalling.name)")
                }
                ports = [port]
            } else {
                ports = channels.filter { $0.signalling.capabilities.bringsDialledNumbers }.map(\.port)
                guard !ports.isEmpty else { throw CallError.error("this card has no FXS port or ISDN B-channel for a caller to dial \(number) on") }
            }
        }
        bindings.withLock { $0.append(binding) }
        for port in ports where dispatchers.withLock({ $0.insert(port).inserted }) {
            let channel = channels[port]
            let starting = engine.holdClock()
            Task {
                stateOfChannels.programStarts(task: currentTaskKey())
                starting.cancel()
                await self.dispatch(channel)
            }
        }
    }

    /// Hands each call on a bound port to its service, until the card closes.
    private func dispatch(_ channel: CallChannel) async {
        while true {
            guard let state = try? await channel.waitForIncomingCall(), state == .callIncoming || state == .ringIncoming else { return }
            // On an FXO line the caller's number comes after the first ring: the service
            // should see it.
            if channel.signalling.capabilities.sendsCallerIDAfterRing { _ = await channel.waitForCallerID() }
            let number = channel.details.calledNumber
            let binding = bindings.withLock { list in
                list.first { binding in
                    switch binding {
                    case .incomingCalls(let port, _): return port == channel.port
                    case .dialledNumber(let dialled, let port, _): return dialled == number && (port == nil || port == channel.port)
                    }
                }
            }
            if let binding, let handler = try? services.handler(binding.service) {
                await services.run(binding.service, handler, on: channel)
            } else {
                _ = try? channel.reject(cause: .unobtainable)
            }
            _ = await channel.waitForIdle(timeout: .seconds(60))
        }
    }

    /// Hands a message from the card's call-control module to `port`'s channel: about its
    /// call `call`, or with nil about the port itself. Call it from the module's own thread,
    /// in the order the network sent the messages; never from the engine's tick.
    public func deliver(_ event: CallControlEvent, port: Int, call: Int?) {
        guard port >= 0, port < channels.count else { return }
        channels[port].callControlEvent(event, call: call)
    }

    /// The channel on `port`.
    public func channel(_ port: Int) throws -> CallChannel {
        guard port >= 0, port < channels.count else {
            throw CallError.error("no port \(port) on this card: ports are numbered 0 to \(channels.count - 1)")
        }
        return channels[port]
    }

    /// Tells the card that the calling task has no more work for its lines until something
    /// else wakes it (a request, a wall-clock timer): on a virtual clock, line time may run.
    /// A task whose wait on a channel ended keeps line time still until it waits again;
    /// call this before it waits for something that is not a channel.
    public func programIsIdle() {
        stateOfChannels.programIsIdle(task: currentTaskKey())
    }

    /// Stops the engine and closes the card; calls in progress end.
    public func shutdown() {
        engine.shutdown()
        for channel in channels { channel.cardClosed() }
    }
}

/// Lets a channel find the others of its card (for connect) without owning them.
final class ChannelDirectory: Sendable {
    private final class WeakChannel: Sendable {
        weak let channel: CallChannel?
        init(_ channel: CallChannel) { self.channel = channel }
    }

    private let entries = Mutex<[WeakChannel]>([])
    let services: InboundServices
    /// Local ports a local call or transfer has taken, until its service returns.
    private let reservedLocal = Mutex<Set<Int>>([])

    /// The ports with no line, on which inbound services run.
    let localPorts: Range<Int>

    init(services: InboundServices, localPorts: Range<Int>, holdClock: (@Sendable () -> ClockHold)?) {
        self.services = services
        self.localPorts = localPorts
        self.holdClock = holdClock
    }

    /// Tells channels of each other's changes (local calls, transfer legs), in order, never
    /// under the card's lock.
    private let notifications = DispatchQueue(label: "linecard.channel-notifications")
    /// Holds virtual line time (nil on a paced clock).
    private let holdClock: (@Sendable () -> ClockHold)?

    /// Posts a notice to a channel. A notice on its way is work the program has pending:
    /// virtual line time stands still until it has been delivered.
    func post(_ notice: @escaping @Sendable () -> Void) {
        let hold = holdClock?()
        notifications.async {
            notice()
            hold?.cancel()
        }
    }

    /// Takes a free local port (idle and not reserved), or nil.
    func reserveLocalChannel(excluding excluded: Int) -> CallChannel? {
        let candidates = entries.withLock { $0.compactMap(\.channel).filter { localPorts.contains($0.port) && $0.port != excluded } }
        return reservedLocal.withLock { reserved in
            guard let free = candidates.first(where: { !reserved.contains($0.port) && $0.state == .idle }) else { return nil }
            reserved.insert(free.port)
            return free
        }
    }

    func releaseLocalChannel(_ port: Int) { _ = reservedLocal.withLock { $0.remove(port) } }

    var localChannelCount: Int { localPorts.count }
    /// Tones registered with the card's engine, by what they sound like.
    let toneCache = Mutex<[ToneSpec: ToneID]>([:])

    func set(_ channels: [CallChannel]) { entries.withLock { $0 = channels.map(WeakChannel.init) } }

    func channel(_ port: Int) -> CallChannel? {
        entries.withLock { port >= 0 && port < $0.count ? $0[port].channel : nil }
    }
}
