import LinecardEngine

extension CallChannel {
    /// The DTMF digits received during a call: detected and buffered for the whole call,
    /// also while the channel plays audio (barge-in). The buffer empties between calls.
    public struct DTMFDetector: Sendable {
        public enum Cause: String, Sendable {
            /// The call hung up.
            case hangup = "HANGUP"
            /// The required count was reached.
            case count = "COUNT"
            /// The end digit was seen.
            case end = "END"
            case timeout = "TIMEOUT"
            case error = "ERROR"
            /// Collection in progress, or none has happened.
            case none = "NONE"
        }

        let channel: CallChannel

        /// Why the last `getDigits` returned.
        public var cause: Cause { channel.detectorCause.withLock { $0 } }

        /// Empties the buffer of received digits.
        public func clearDigits() { channel.core.withLock { $0.media.digitBuffer.removeAll() } }

        /// Collects digits from the buffer and the line.
        ///
        /// - Parameters:
        ///   - clear: empty the buffer first.
        ///   - count: return once this many digits are collected (0: no limit).
        ///   - predigitsTimeout: how long to wait for the first digit (0: return at once
        ///     when the buffer is empty).
        ///   - interdigitTimeout: how long to wait for each further digit.
        ///   - end: a digit that ends collection; it is not included in the result.
        ///   - timeout: a limit on the whole collection (nil: none).
        /// - Returns: the digits collected; `cause` says why collection ended.
        /// - Throws: `CallError.hangup` when there is no call, `CallError.error` for an
        ///   invalid `end` or a negative count.
        public func getDigits(clear: Bool = false, count: Int = 0, predigitsTimeout: Duration = .zero,
                              interdigitTimeout: Duration = .seconds(5), end: Character? = nil,
                              timeout: Duration? = nil) async throws -> String {
            guard count >= 0 else { throw CallError.error("count must not be negative (got \(count))") }
            if let end, !"0123456789ABCD*#".contains(end) {
                throw CallError.error("end digit \"\(end)\" is not a DTMF digit")
            }
            let start = try channel.core.withLock { c -> Int64 in
                if !c.isInCall { throw CallError.hangup("port \(channel.port) has no call (IDLE): cannot collect digits") }
                if clear { c.media.digitBuffer.removeAll() }
                return max(c.now, channel.engine.lineTime)
            }
            channel.detectorCause.withLock { $0 = .none }
            let overall = timeout.map { start + $0.samples }
            var digits = ""
            var lastDigitAt = start
            var result = Cause.none
            collecting: while true {
                var deadline = digits.isEmpty ? start + predigitsTimeout.samples : lastDigitAt + interdigitTimeout.samples
                if let overall { deadline = min(deadline, overall) }
                let now = channel.engine.lineTime
                let remaining = Duration.milliseconds(max(0, (deadline - now) / 8))
                enum Next: Sendable { case digit(Character, Int64), hangup, timeout }
                let next = await channel.wait(until: remaining) { c -> Next? in
                    if !c.media.digitBuffer.isEmpty {
                        let d = c.media.digitBuffer.removeFirst()
                        return .digit(d.digit, d.lineTime)
                    }
                    return c.isInCall ? nil : .hangup
                } timedOut: { _ in .timeout }
                switch next {
                case .digit(let d, let at):
                    lastDigitAt = at
                    if d == end {
                        result = .end
                        break collecting
                    }
                    digits.append(d)
                    if count > 0, digits.count >= count {
                        result = .count
                        break collecting
                    }
                case .hangup:
                    result = .hangup
                    break collecting
                case .timeout:
                    result = .timeout
                    break collecting
                }
            }
            channel.detectorCause.withLock { $0 = result }
            return digits
        }
    }
}
