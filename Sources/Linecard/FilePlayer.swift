import Foundation
import LinecardEngine

/// A file being played: all of it in memory, fed into the port's playback ring whenever the
/// engine says the ring is half empty.
struct PlaybackJob: Sendable {
    var samples: [Int16]
    var position = 0
    var finishing = false
    var bargeIn: Bool
    var outcome: CallChannel.FilePlayer.Cause?
}

extension CallChannel {
    /// Plays WAV files on an answered call.
    public struct FilePlayer: Sendable {
        public enum State: String, Sendable { case playing = "PLAYING", idle = "IDLE", error = "ERROR" }
        public enum Cause: String, Sendable {
            case error = "ERROR", normal = "NORMAL"
            /// A DTMF digit interrupted the play.
            case bargeIn = "BARGEIN"
            /// `stop` was called.
            case aborted = "ABORTED"
            case hangup = "HANGUP", timeout = "TIMEOUT"
            case none = "NONE"
        }

        let channel: CallChannel

        public var state: State { channel.fileStatus.withLock { $0.player.state } }
        public var cause: Cause { channel.fileStatus.withLock { $0.player.state == .playing ? .none : $0.player.cause } }

        /// Plays the WAV file at `path` and blocks until it ends; returns why it ended.
        ///
        /// 8 kHz 16-bit PCM plays as it is; 8-bit PCM, A-law, µ-law, stereo and other rates
        /// are converted. With `bargeIn`, a DTMF digit received during the play stops it
        /// (digits already buffered do not). Throws `CallError.hangup` when the call is IDLE,
        /// and `CallError.error` when it is not ANSWERED, a play is in progress, the channel
        /// is connected, or the file cannot be used (the message says why).
        @discardableResult
        public func play(_ path: String, bargeIn: Bool = false, timeout: Duration? = nil) async throws -> Cause {
            try channel.core.withLock { c in try channel.requireCanTransmit(c, "play a file") }
            let samples: [Int16]
            do { samples = try WAVFile.read(path) } catch { throw CallError.error("\(error)") }
            try channel.core.withLock { c in
                try channel.requireCanTransmit(c, "play a file")
                c.media.playback = PlaybackJob(samples: samples, bargeIn: bargeIn)
                channel.playbackRing.discardAll()
                // Fill the ring, then start, then (for a short file) say it is all there.
                channel.feedPlayback(&c, finishing: false)
                channel.send(.startPlayback)
                channel.feedPlayback(&c)
            }
            channel.fileStatus.withLock { $0.player = (.playing, .none) }
            let outcome = await channel.wait(until: timeout) { c -> Cause? in
                if c.state == .idle { return .hangup }
                return c.media.playback?.outcome
            } timedOut: { _ in .timeout }
            channel.core.withLock { c in
                if c.media.playback != nil, outcome != .normal { channel.send(.stopPlayback) }
                c.media.playback = nil
            }
            channel.fileStatus.withLock { $0.player = (.idle, outcome) }
            return outcome
        }

        /// Stops a play (cause ABORTED); true, also when nothing was playing.
        @discardableResult
        public func stop() -> Bool {
            channel.core.withLock { c in
                if c.media.playback != nil, c.media.playback?.outcome == nil {
                    c.media.playback?.outcome = .aborted
                    channel.send(.stopPlayback)
                }
            }
            channel.wakeWaiters()
            return true
        }
    }

    public var filePlayer: FilePlayer { FilePlayer(channel: self) }

    /// The rules every transmitting function shares.
    func requireCanTransmit(_ c: ChannelCore, _ what: String) throws {
        try requireAnswered(c, what)
        if let peer = c.bridge.connectedTo {
            throw CallError.error("port \(port) has an external audio source (connected to port \(peer)): it cannot \(what)")
        }
        if c.media.playback != nil { throw CallError.error("a file is already playing on port \(port)") }
    }

    func feedPlayback(_ c: inout ChannelCore, finishing: Bool = true) {
        guard var job = c.media.playback, job.outcome == nil, !job.finishing else { return }
        let written = job.samples.withUnsafeBufferPointer { buffer in
            playbackRing.write(buffer.baseAddress! + job.position, count: buffer.count - job.position)
        }
        job.position += written
        if finishing, job.position == job.samples.count {
            job.finishing = true
            send(.finishPlayback)
        }
        c.media.playback = job
    }

    /// Re-checks waiters after a change made outside an event (e.g. `stop`).
    func wakeWaiters() {
        let ready = core.withLock { pollWaiters(&$0) }
        for resume in ready { resume() }
        reportToOwner()
    }
}
