import LinecardEngine

extension CallChannel {
    /// Waits for the moment to leave a message on an answering machine: a beep of at least
    /// `minimumBeep` followed by `postBeepSilence` of silence, or `noBeepSilence` of
    /// uninterrupted silence (a machine without a beep, or one that has finished). All
    /// durations are line time.
    ///
    /// - Returns: true when either happened, false when `timeout` passed first (nil: no limit).
    /// - Throws: `CallError.hangup` when the call is IDLE or the far end hangs up while
    ///   waiting; `CallError.error` when the call is not ANSWERED.
    public func waitForAnswerMachine(minimumBeep: Duration = .milliseconds(180),
                                     postBeepSilence: Duration = .milliseconds(1000),
                                     noBeepSilence: Duration = .milliseconds(4000),
                                     timeout: Duration? = .seconds(10)) async throws -> Bool {
        let start = try core.withLock { c -> Int64 in
            if !c.isInCall { throw CallError.hangup("port \(port) has no call (IDLE): cannot wait for an answering machine") }
            guard c.state == .answered else {
                throw CallError.error("cannot wait for an answering machine on port \(port): the call is \(c.state.rawValue), not ANSWERED")
            }
            send(.detectBeeps(true))
            return max(c.now, engine.lineTime)
        }
        defer { send(.detectBeeps(false)) }
        let deadline = timeout.map { start + $0.samples }
        // A beep's end and the silence after it are seen by different detectors, a block or
        // two apart.
        let slack = Int64(100 * 8)

        enum Step { case finished(Bool), hungUp, wait(until: Int64, version: Int) }
        while true {
            let step = core.withLock { c -> Step in
                guard c.state == .answered else { return .hungUp }
                let now = max(c.now, engine.lineTime)
                var next = deadline ?? Int64.max
                if let beep = c.media.lastBeep, beep.endedAt >= start, beep.milliseconds >= Int(minimumBeep.samples / 8),
                   !c.media.beepActive, !c.media.audioActive, c.media.silentSince <= beep.endedAt + slack {
                    let due = beep.endedAt + postBeepSilence.samples
                    if now >= due { return .finished(true) }
                    next = min(next, due)
                }
                if !c.media.audioActive, !c.media.beepActive {
                    let due = max(c.media.silentSince, start) + noBeepSilence.samples
                    if now >= due { return .finished(true) }
                    next = min(next, due)
                }
                if let deadline, now >= deadline { return .finished(false) }
                return .wait(until: next, version: c.media.mediaVersion)
            }
            switch step {
            case .finished(let found): return found
            case .hungUp:
                throw CallError.hangup("the far end hung up on port \(port) while waiting for an answering machine")
            case .wait(let until, let version):
                let now = engine.lineTime
                let samples = until == Int64.max ? nil : Optional(max(8, until - now))
                _ = await wait(until: samples.map { .milliseconds(($0 + 7) / 8) }) { c in
                    c.state != .answered || c.media.mediaVersion != version ? true : nil
                } timedOut: { _ in false }
            }
        }
    }
}
