import Foundation
import LinecardEngine

/// Retrievable transfers (reference: transfer-to-inbound-service.txt). The transferred call
/// keeps its port; a second channel, `otherCall`, places the outbound leg; once the leg is
/// answered the two are bridged in the engine and this call is TRANSFERRED. When the leg ends,
/// or the application retrieves the call, it goes RECONNECTING and then ANSWERED, with its own
/// audio path back.
extension CallChannel {
    /// Why the last transfer on this channel ended as it did (NONE while one is under way).
    public func transferCause() -> TransferCause { core.withLock { $0.bridge.transferCause } }

    /// Transfers this answered call to a new instance of the inbound service `service`, the
    /// leg placed on `otherCall` (which must be IDLE; a local port runs the service). While
    /// the leg rings the caller hears `ringbackTone` (nil: the tone manager's default) from
    /// this channel's tone player, which must exist. `callFrom` empty means this call's calling
    /// number. Blocks until transferred, failed, or `timeout` of line time (nil: none) passes;
    /// returns the state: TRANSFERRED, or ANSWERED with `transferCause()` saying why not, or
    /// IDLE when the caller hung up meanwhile (HANGUP).
    @discardableResult
    public func transferToInboundService(otherCall: CallChannel, callTo service: String, callFrom: String = "",
                                         ringbackTone: String? = nil, timeout: Duration? = .seconds(120)) async throws -> CallState {
        let ringback = try prepareTransfer(otherCall, ringbackTone: ringbackTone)
        _ = try directory.services.handler(service)
        let from = callFrom.isEmpty ? defaultTransferCaller() : callFrom
        return await runTransfer(otherCall, ringback: ringback, timeout: timeout) {
            try otherCall.startCallToInboundService(service, from: from)
        }
    }

    /// Transfers this answered call to `number`, a real call placed on `otherCall` (an IDLE
    /// FXO port dials it; an FXS port rings its telephone). Otherwise as
    /// `transferToInboundService`.
    @discardableResult
    public func retrievableTransfer(otherCall: CallChannel, callTo number: String, callFrom: String = "",
                                    ringbackTone: String? = nil, timeout: Duration? = .seconds(120)) async throws -> CallState {
        let ringback = try prepareTransfer(otherCall, ringbackTone: ringbackTone)
        guard otherCall.signalling.capabilities.callsNumbers else {
            throw CallError.error("a transfer to a number needs a line for its leg: port \(otherCall.port) is \(otherCall.signalling.name)")
        }
        if otherCall.signalling.capabilities.dialsNumbers {
            _ = try DialString.checked(number)
        }
        let from = callFrom.isEmpty ? defaultTransferCaller() : callFrom
        return await runTransfer(otherCall, ringback: ringback, timeout: timeout) {
            try otherCall.startCall(to: number, from: from)
        }
    }

    /// Takes a TRANSFERRED call back: the leg is hung up (the service sees its call end) and
    /// this call goes RECONNECTING, then ANSWERED with its own audio path. Returns the state.
    @discardableResult
    public func retrieveTransferredCall() async throws -> CallState {
        let leg = try core.withLock { c -> Int? in
            if c.state == .idle { throw CallError.hangup("port \(port) has no call (IDLE): nothing to retrieve") }
            if c.state == .reconnecting { return nil }
            guard c.state == .transferred else {
                throw CallError.error("cannot retrieve on port \(port): the call is \(c.state.rawValue), not TRANSFERRED")
            }
            let leg = c.bridge.transferLeg
            startReconnecting(&c)
            return leg
        }
        if let leg, let other = directory.channel(leg) { await other.hangUp() }
        return await wait(until: .seconds(5)) { c in c.state == .answered || c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    /// Waits while the call is TRANSFERRED (or RECONNECTING) until it is back (ANSWERED: the
    /// leg ended) or over (IDLE), or `timeout` of line time passes. Returns the state.
    @discardableResult
    public func waitForTransferredCallRetrieval(timeout: Duration? = nil) async throws -> CallState {
        try core.withLock { c in
            if c.state == .idle { throw CallError.hangup("port \(port) has no call (IDLE)") }
            guard c.state == .transferred || c.state == .reconnecting || c.state == .answered else {
                throw CallError.error("port \(port) has no transferred call to wait for: the call is \(c.state.rawValue)")
            }
        }
        return await wait(until: timeout) { c in c.state == .answered || c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    /// Hands an answered FXO call on to `number` the way an analog line does (a blind,
    /// non-retrievable transfer): hook flash, the exchange's second dial tone, the number in
    /// DTMF, hang up; the exchange connects the far end to `number`. This channel is then IDLE
    /// (cause NORMAL). Same Hangup/Error rules as the other transfers; an Error on a port that
    /// is not FXO. Returns the state.
    @discardableResult
    public func hookFlashTransfer(to number: String) async throws -> CallState {
        guard signalling.capabilities.flashTransfers else {
            throw CallError.error("a hook-flash transfer needs an FXO line: port \(port) is \(signalling.name)")
        }
        let dial = try DialString.checked(number)
        try core.withLock { c in
            try requireAnswered(c, "transfer the call by hook flash")
            if let peer = c.bridge.connectedTo {
                throw CallError.error("port \(port) is connected to port \(peer): disconnect it before a transfer")
            }
            if c.media.playingDigits || c.media.toneSequence != nil || c.media.playback != nil {
                throw CallError.error("port \(port) is playing: stop it before a transfer")
            }
            try signalling.flash(self, &c)
        }
        // The flash itself, then the exchange's dial tone.
        let ended = await wait(until: .milliseconds(800)) { c in c.state == .idle ? true : nil } timedOut: { _ in false }
        if ended { return .idle }
        core.withLock { c in
            c.media.digitsDone = false
            send(.sendDigits(dial.digitString))
        }
        _ = await wait(until: .seconds(10)) { c in c.state == .idle || c.media.digitsDone ? true : nil } timedOut: { _ in false }
        core.withLock { c in
            if c.isInCall { release(&c, .normal, raw: "transferred to \(number) by hook flash") }
        }
        wakeWaiters()
        return state
    }

    // MARK: How a transfer runs

    /// The reference's rules, checked before anything happens; returns the ringback's steps.
    private func prepareTransfer(_ other: CallChannel, ringbackTone: String?) throws -> [(ToneID, Int64)] {
        try core.withLock { c in
            try requireAnswered(c, "transfer the call")
            if let peer = c.bridge.connectedTo {
                throw CallError.error("port \(port) is connected to port \(peer): disconnect it before a transfer")
            }
        }
        guard other !== self else { throw CallError.error("a call cannot be transferred onto its own channel") }
        let otherState = other.state
        if otherState == .waiting {
            throw CallError.error("the other call (port \(other.port)) must be IDLE to place the transfer's leg; it is WAITING for an incoming call")
        }
        guard otherState == .idle else {
            throw CallError.error("the other call (port \(other.port)) must be IDLE to place the transfer's leg; it is \(otherState.rawValue)")
        }
        guard let player = tonePlayer else {
            throw CallError.error("port \(port) has no tone player: make one (makeTonePlayer) before a transfer, for the ringback the caller hears")
        }
        let name = ringbackTone ?? player.toneManager.defaultTone
        guard let segments = player.toneManager.segments(named: name) else {
            throw CallError.error("no tone named \"\(name)\" in the tone manager (known: \(player.toneManager.names.joined(separator: ", ")))")
        }
        return try segments.map { (try toneID(for: $0.spec), Int64($0.duration) * 8) }
    }

    private func defaultTransferCaller() -> String {
        let number = details.callingNumber
        return number.isEmpty ? "port \(port)" : number
    }

    private func runTransfer(_ other: CallChannel, ringback: [(ToneID, Int64)], timeout: Duration?,
                             placeLeg: () throws -> Void) async -> CallState {
        // The call and its leg are linked in one step.
        core.card.withChannels(port, other.port) { c, o in
            c.state = .transferring
            c.bridge.transferCause = .none
            c.bridge.transferSerial += 1
            c.bridge.transferLeg = other.port
            c.bridge.legState = .callOutgoing
            c.bridge.legCause = .normal
            c.bridge.ringbackPlaying = false
            o.bridge.legOwner = port
            o.bridge.legSerial = c.bridge.transferSerial
            o.bridge.legCallSerial = nil
            o.bridge.lastReportedToOwner = nil
        }
        do {
            try placeLeg()
        } catch {
            other.core.withLock { $0.bridge.legOwner = nil }
            core.withLock { c in
                c.bridge.transferLeg = nil
                if c.state == .transferring { c.state = .answered }
                c.bridge.transferCause = .fail
                c.details.rawCause = "transfer failed: \(error)"
            }
            return state
        }
        other.reportToOwner()
        let outcome: TransferCause = await wait(until: timeout) { c in
            if c.state == .idle { return .hangup }
            switch c.bridge.legState {
            case .ringOutgoing:
                if !c.bridge.ringbackPlaying {
                    c.bridge.ringbackPlaying = true
                    c.media.toneSequence = ToneSequence(steps: ringback, next: 0)
                    self.playNextToneStep(&c)
                }
                return nil
            case .answered: return .normal
            case .idle:
                switch c.bridge.legCause {
                case .busy, .rejected, .unobtainable, .congestion, .barred, .noChannels, .changed: return .targetReject
                case .normal: return .targetHangup
                case .noAnswer, .timeout: return .timeout
                default: return .fail
                }
            default: return nil
            }
        } timedOut: { _ in .timeout }

        let legToEnd = core.withLock { c -> Bool in
            if c.bridge.ringbackPlaying {
                c.bridge.ringbackPlaying = false
                if c.state != .idle { _ = stopToneLocked(&c) }
            }
            if outcome == .normal, c.state == .transferring {
                c.state = .transferred
                c.bridge.transferCause = .normal
                // The bridge is up already: the leg set it when it reported its answer.
                return false
            }
            c.bridge.transferCause = c.state == .idle ? .hangup : outcome == .normal ? .fail : outcome
            c.bridge.transferLeg = nil
            // The leg may have answered as the transfer gave up, and bridged itself.
            send(.stopListening)
            if c.state == .transferring { c.state = .answered }
            return true
        }
        if legToEnd {
            other.core.withLock { $0.bridge.legOwner = nil }
            if other.state != .idle { await other.hangUp() }
        }
        return state
    }

    /// The leg of this call's transfer changed state (told by the leg, in order).
    func legChanged(from leg: Int, serial: Int, _ state: CallState, _ cause: CallCause) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            guard c.bridge.transferLeg == leg, c.bridge.transferSerial == serial else { return [] }
            c.bridge.legState = state
            c.bridge.legCause = cause
            if state == .idle, c.state == .transferred {
                // The service side (or the far end of the leg) is done: take the call back.
                startReconnecting(&c)
            }
            return pollWaiters(&c)
        }
        for resume in ready { resume() }
    }

    /// RECONNECTING for one engine block, while the bridge comes down; then ANSWERED.
    func startReconnecting(_ c: inout ChannelCore) {
        c.state = .reconnecting
        c.bridge.transferLeg = nil
        send(.stopListening)
        c.bridge.reconnectTimer = setTimer(&c, .reconnect, after: .milliseconds(20))
    }

    /// As a transfer's leg: the transferred call (`owner`'s transfer `serial`) ended, so this
    /// leg ends too. A late notice (this port has since served another transfer) changes
    /// nothing.
    func transferOwnerEnded(_ owner: Int, serial: Int) {
        let ended = core.withLock { c -> Bool in
            guard c.bridge.legOwner == owner, c.bridge.legSerial == serial, c.isInCall else { return false }
            _ = release(&c, .normal, raw: "hung up here")
            return true
        }
        if ended {
            wakeWaiters()
            reportToOwner()
        }
    }

    /// As a transfer's leg: tells the transferred call of each change of state, in order.
    /// The report is posted under the card's lock, where the change it reports was seen: two
    /// reports made by different threads (the program placing the leg, the dispatcher seeing
    /// it answered) are then posted in the order of the changes.
    func reportToOwner() {
        core.withLock { c in
            guard let owner = c.bridge.legOwner, c.bridge.legCallSerial == c.callSerial, c.bridge.lastReportedToOwner != c.state else { return }
            c.bridge.lastReportedToOwner = c.state
            if c.state == .idle { c.bridge.legOwner = nil }
            let me = port, serial = c.bridge.legSerial, state = c.state, cause = c.state == .idle ? c.cause : .normal
            let directory = self.directory
            if state == .answered {
                // Bridge at once, in this engine tick, so that nothing the target says first is
                // lost; the transferred call learns of it a moment later.
                send(.listen(to: Int32(owner)))
                directory.channel(owner)?.send(.listen(to: Int32(me)))
            }
            directory.post { directory.channel(owner)?.legChanged(from: me, serial: serial, state, cause) }
        }
    }
}
