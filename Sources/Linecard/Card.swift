import LinecardDSP
import LinecardEngine
import Synchronization

/// A card with a `CallChannel` on every port: it owns the engine and routes each engine
/// event to its port's channel (on the engine's dispatcher thread, never the tick).
public final class Card: Sendable {
    public let engine: Engine
    public let channels: [CallChannel]

    /// Opens every port of `backend` and starts its engine.
    public init(backend: any CardBackend, engine configuration: EngineConfiguration = EngineConfiguration(),
                channels channelConfiguration: ChannelConfiguration = ChannelConfiguration()) throws {
        let engine = try Engine(card: backend, configuration: configuration)
        self.engine = engine
        let directory = ChannelDirectory()
        let channels = backend.ports.map {
            CallChannel(port: $0, engine: engine, configuration: channelConfiguration, directory: directory)
        }
        self.channels = channels
        directory.set(channels)
        for port in backend.ports { try engine.open(port: port.index) }
        try engine.start { event in
            let port = Int(event.port)
            if port >= 0, port < channels.count { channels[port].handle(event) }
        }
    }

    /// The channel on `port`.
    public func channel(_ port: Int) throws -> CallChannel {
        guard port >= 0, port < channels.count else {
            throw CallError.error("no port \(port) on this card: ports are numbered 0 to \(channels.count - 1)")
        }
        return channels[port]
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
    /// Tones registered with the card's engine, by what they sound like.
    let toneCache = Mutex<[ToneSpec: ToneID]>([:])

    func set(_ channels: [CallChannel]) { entries.withLock { $0 = channels.map(WeakChannel.init) } }

    func channel(_ port: Int) -> CallChannel? {
        entries.withLock { port >= 0 && port < $0.count ? $0[port].channel : nil }
    }
}
