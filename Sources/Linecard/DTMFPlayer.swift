import LinecardEngine

extension CallChannel {
    /// Plays DTMF digits on an answered call (reference: dtmf-player.txt).
    public struct DTMFPlayer: Sendable {
        public enum State: String, Sendable { case playing = "PLAYING", idle = "IDLE", error = "ERROR" }
        public enum Cause: String, Sendable {
            case error = "ERROR", normal = "NORMAL", hangup = "HANGUP", timeout = "TIMEOUT"
            /// A play is in progress, or none has happened.
            case none = "NONE"
        }

        public static let maximumLength = 32
        /// The characters `play` accepts.
        public static let validCharacters = Set("0123456789ABCD*#,")
        /// How long each comma delays the digits after it.
        public static let commaPause = Duration.milliseconds(500)

        let channel: CallChannel

        /// The current play state: PLAYING while a job runs, else IDLE (or ERROR).
        public var state: State { channel.playerStatus.withLock { $0.state } }
        /// Why the last job ended; NONE while a job runs or before any.
        public var cause: Cause { channel.playerStatus.withLock { $0.state == .playing ? .none : $0.cause } }

        /// Sends `digits` (0-9, A-D, *, #; each comma pauses half a second) and blocks until
        /// they are sent; returns the termination cause.
        ///
        /// Throws `CallError.hangup` when the call is IDLE, and `CallError.error` when it is
        /// not ANSWERED (WAITING included), a play is already in progress, the channel has an
        /// external audio source (it is connected, or a file play or fax job is running), the
        /// string is longer than 32, or it holds an invalid character.
        ///
        /// A job that fails leaves the state ERROR: the cause is ERROR when the card refused
        /// the digits or the port went out of service, and TIMEOUT when the card did not
        /// finish them in time. A job the far end's hang-up ended is not a failure (IDLE,
        /// HANGUP).
        @discardableResult
        public func play(_ digits: String) async throws -> Cause {
            try channel.core.withLock { c in
                try channel.requireAnswered(c, "play DTMF")
                if c.media.playingDigits { throw CallError.error("a DTMF play is already in progress on port \(channel.port)") }
                if let peer = c.bridge.connectedTo {
                    throw CallError.error("port \(channel.port) has an external audio source (connected to port \(peer)): it cannot play DTMF")
                }
                if c.media.playback != nil {
                    throw CallError.error("port \(channel.port) has an external audio source (a file is playing): it cannot play DTMF")
                }
                if c.jobs.fax.running {
                    throw CallError.error("port \(channel.port) has an external audio source (a fax job is \(c.jobs.fax.state.rawValue)): it cannot play DTMF")
                }
                guard digits.count <= Self.maximumLength else {
                    throw CallError.error("the digit string has \(digits.count) characters; at most \(Self.maximumLength) are allowed")
                }
                if let bad = digits.first(where: { !Self.validCharacters.contains($0) }) {
                    throw CallError.error("the digit string \"\(digits)\" has \"\(bad)\": use only 0-9, A-D, *, # and ,")
                }
                c.media.playingDigits = true
            }
            channel.playerStatus.withLock { $0 = (.playing, .none) }
            let cause = await playChunks(digits)
            channel.core.withLock { $0.media.playingDigits = false }
            // The reference's ERROR state is "a play job failed": a refused job or an expired
            // timer, not a call the far end ended.
            channel.playerStatus.withLock { $0 = (cause == .error || cause == .timeout ? .error : .idle, cause) }
            return cause
        }

        private func playChunks(_ digits: String) async -> Cause {
            var chunk = ""
            for ch in digits + "\0" {
                if ch == "," || ch == "\0" {
                    if !chunk.isEmpty {
                        let sent = await send(chunk)
                        if sent != .normal { return sent }
                        chunk = ""
                    }
                    if ch == "," {
                        let paused = await channel.wait(until: Self.commaPause) { c in Self.ending(c) } timedOut: { _ in Cause.normal }
                        if paused != .normal { return paused }
                    }
                } else {
                    chunk.append(ch)
                }
            }
            return .normal
        }

        /// Why a job must stop now, if it must: the port went out of service (ERROR) or the
        /// call ended (HANGUP).
        private static func ending(_ c: ChannelCore) -> Cause? {
            if c.outOfService != nil { return .error }
            return c.state == .idle ? .hangup : nil
        }

        private func send(_ chunk: String) async -> Cause {
            let accepted = channel.core.withLock { c -> Bool in
                c.media.digitsDone = false
                return channel.trySend(.sendDigits(DigitString(chunk)!))
            }
            guard accepted else { return .error }
            // 105 ms a digit at spandsp's timing; twice that and a second more is a fault.
            let limit = Duration.milliseconds(210 * chunk.count + 1000)
            let outcome = await channel.wait(until: limit) { c -> Cause? in
                if let ended = Self.ending(c) { return ended }
                return c.media.digitsDone ? .normal : nil
            } timedOut: { _ in .timeout }
            if outcome != .normal { channel.send(.stopDigits) }
            return outcome
        }
    }
}
