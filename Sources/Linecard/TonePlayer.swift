import LinecardDSP
import LinecardEngine
import Synchronization

extension CallChannel {
    /// Plays tones known to a `ToneManager` on an answered call.
    public final class TonePlayer: Sendable {
        public enum State: String, Sendable { case playing = "PLAYING", idle = "IDLE", error = "ERROR" }
        public enum Cause: String, Sendable {
            case error = "ERROR", normal = "NORMAL", hangup = "HANGUP", timeout = "TIMEOUT"
            /// Stopped by `stop`.
            case aborted = "ABORTED"
            case none = "NONE"
        }

        public let toneManager: ToneManager
        let channel: CallChannel
        let status = Mutex<(state: State, cause: Cause)>((.idle, .none))

        init(channel: CallChannel, toneManager: ToneManager) {
            self.channel = channel
            self.toneManager = toneManager
        }

        public var state: State { status.withLock { $0.state } }
        public var cause: Cause { status.withLock { $0.state == .playing ? .none : $0.cause } }

        /// Plays `name` for `duration` of line time (its cadence repeating) and returns the
        /// termination cause. Same rules as `DTMFPlayer.play`; an unknown tone is an Error.
        @discardableResult
        public func play(_ name: String, duration: Duration) async throws -> Cause {
            try start(name)
            let outcome = await channel.wait(until: duration) { c -> Cause? in
                if c.state == .idle { return .hangup }
                return c.media.toneSequence == nil ? .aborted : nil
            } timedOut: { _ in .normal }
            if outcome == .normal { channel.stopTone() }
            status.withLock { $0 = (.idle, outcome) }
            return outcome
        }

        /// Starts `name` playing until `stop()` or the end of the call.
        public func start(_ name: String) throws {
            guard let segments = toneManager.segments(named: name) else {
                throw CallError.error("no tone named \"\(name)\" in the tone manager (known: \(toneManager.names.joined(separator: ", ")))")
            }
            let steps = try segments.map { (try channel.toneID(for: $0.spec), Int64($0.duration) * 8) }
            try channel.core.withLock { c in
                try channel.requireAnswered(c, "play a tone")
                if c.media.toneSequence != nil || c.media.playingDigits { throw CallError.error("port \(channel.port) is already playing") }
                if let peer = c.bridge.connectedTo {
                    throw CallError.error("port \(channel.port) has an external audio source (connected to port \(peer)): it cannot play a tone")
                }
                c.media.toneSequence = ToneSequence(steps: steps, next: 0)
                channel.playNextToneStep(&c)
            }
            status.withLock { $0 = (.playing, .none) }
        }

        /// Stops the tone; true when nothing plays afterwards (also when nothing played).
        @discardableResult
        public func stop() -> Bool {
            let was = channel.stopTone()
            if was { status.withLock { $0 = (.idle, .aborted) } }
            return true
        }
    }

    /// Creates this channel's tone player (the reference requires one before tones or a
    /// transfer's ringback can be played).
    @discardableResult
    public func makeTonePlayer(using toneManager: ToneManager) -> TonePlayer {
        let player = TonePlayer(channel: self, toneManager: toneManager)
        tonePlayerSlot.withLock { $0 = player }
        return player
    }

    /// The tone player made with `makeTonePlayer`, if any.
    public var tonePlayer: TonePlayer? { tonePlayerSlot.withLock { $0 } }

    /// The engine's tone for a segment, registered on first use.
    func toneID(for spec: ToneSpec) throws -> ToneID {
        try directory.toneCache.withLock { cache in
            if let id = cache[spec] { return id }
            do {
                let id = try engine.registerTone(spec)
                cache[spec] = id
                return id
            } catch {
                throw CallError.error("cannot add the tone: \(error)")
            }
        }
    }

    func playNextToneStep(_ c: inout ChannelCore) {
        guard var sequence = c.media.toneSequence, !sequence.steps.isEmpty else { return }
        // Skip zero-length steps, but not forever.
        var guardCount = sequence.steps.count
        while sequence.steps[sequence.next].1 == 0, guardCount > 0 {
            sequence.next = (sequence.next + 1) % sequence.steps.count
            guardCount -= 1
        }
        let (id, samples) = sequence.steps[sequence.next]
        sequence.next = (sequence.next + 1) % sequence.steps.count
        c.media.toneSequence = sequence
        send(.playTone(id, samples: max(8, samples)))
    }

    /// Stops any tone sequence; returns whether one was playing.
    @discardableResult
    func stopTone() -> Bool {
        core.withLock { c in stopToneLocked(&c) }
    }

    func stopToneLocked(_ c: inout ChannelCore) -> Bool {
        defer { c.media.toneSequence = nil }
        if c.media.toneSequence != nil { send(.stopTone) }
        return c.media.toneSequence != nil
    }
}

/// A tone playing as timed steps, advanced when the engine reports each step finished.
struct ToneSequence: Sendable {
    var steps: [(ToneID, Int64)]
    var next: Int
}
