import Foundation
import LinecardEngine

/// Calls inside the box: from any idle channel to a new instance of an inbound service,
/// which runs on a free local port. The two ports are patched to each other in the engine;
/// neither touches a line.
extension CallChannel {
    /// Starts a call to a new instance of the inbound service `service` and returns at once
    /// (the call is RING_OUTGOING until the service answers). `caller` empty means this
    /// port ("port N"). Errors: this channel not IDLE, an unknown service, no free local port.
    public func startCallToInboundService(_ service: String, from caller: String = "", timeout: Duration? = nil) throws {
        let handler = try directory.services.handler(service)
        try core.withLock { c in
            guard c.state == .idle || c.state == .waiting else {
                throw CallError.error("cannot call the service \"\(service)\" on port \(port): the channel is \(c.state.rawValue), not IDLE")
            }
        }
        guard let target = directory.reserveLocalChannel(excluding: port) else {
            throw CallError.error("no free local port to run \"\(service)\" on: all \(directory.localChannelCount) are busy")
        }
        let from = caller.isEmpty ? "port \(port)" : caller
        // Both ends are linked in one step: a late notice from either port's previous call
        // finds serials that are not its own.
        let begun = core.card.withChannels(port, target.port) { c, t -> [@Sendable () -> Void]? in
            guard c.state == .idle || c.state == .waiting else { return nil }
            beginCall(&c)
            c.placedHere = true
            c.details.calledNumber = service
            c.details.callingNumber = from
            c.state = .ringOutgoing
            if let timeout { c.callTimer = setTimer(&c, .call, after: timeout) }
            target.beginCall(&t)
            t.state = .callIncoming
            t.details.callingNumber = from
            t.details.calledNumber = service
            c.bridge.localPeer = target.port
            c.bridge.localPeerSerial = t.callSerial
            t.bridge.localPeer = port
            t.bridge.localPeerSerial = c.callSerial
            send(.patch(to: Int32(target.port)))
            target.send(.patch(to: Int32(port)))
            return target.pollWaiters(&t)
        }
        guard let begun else {
            directory.releaseLocalChannel(target.port)
            throw CallError.error("cannot call the service \"\(service)\" on port \(port): the channel is no longer IDLE")
        }
        for resume in begun { resume() }
        let directory = self.directory
        // Line time stands still from here until the service's task runs (and then until it
        // first waits): however late a loaded machine starts it, it finds its call as it was.
        let starting = engine.holdClock()
        Task {
            target.core.card.programStarts(task: currentTaskKey())
            starting.cancel()
            await directory.services.run(service, handler, on: target)
            directory.releaseLocalChannel(target.port)
        }
        reportToOwner()
    }

    /// Calls a new instance of the inbound service `service` and waits until it answers,
    /// refuses, or `timeout` of line time passes (the call is then abandoned: NOANSWER).
    /// Returns the state.
    @discardableResult
    public func callToInboundService(_ service: String, from caller: String = "", timeout: Duration? = .seconds(120)) async throws -> CallState {
        try startCallToInboundService(service, from: caller, timeout: timeout)
        return await wait(until: nil) { c in c.state == .answered || c.state == .idle ? c.state : nil } timedOut: { $0.state }
    }

    /// The local port this call reached (its call `serial`) answered it.
    func localPeerAnswered(by peer: Int, serial: Int) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            guard c.bridge.localPeer == peer, c.bridge.localPeerSerial == serial, c.state == .ringOutgoing || c.state == .callOutgoing else { return [] }
            enterAnswered(&c)
            return pollWaiters(&c)
        }
        for resume in ready { resume() }
        reportToOwner()
    }

    /// The other end of the local call (its call `serial`) hung up, or refused it with
    /// `cause`. A late notice about an earlier call changes nothing.
    func localPeerEnded(by peer: Int, serial: Int, cause: CallCause) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            guard c.bridge.localPeer == peer, c.bridge.localPeerSerial == serial, c.isInCall else { return [] }
            c.bridge.localPeer = nil
            send(.patch(to: -1))
            let answered = c.state != .callIncoming && c.state != .ringIncoming && c.state != .ringOutgoing && c.state != .callOutgoing
            if answered {
                finish(&c, .normal, raw: "the far end hung up")
            } else {
                finish(&c, cause, raw: cause == .normal ? "the far end hung up before answering" : "refused by the far end (\(cause.rawValue))")
            }
            return pollWaiters(&c)
        }
        for resume in ready { resume() }
        reportToOwner()
    }

    /// At the end of a local call: unpatch and tell the other end (after this lock is let go).
    func endLocalCall(_ c: inout ChannelCore) {
        guard let peer = c.bridge.localPeer else { return }
        c.bridge.localPeer = nil
        send(.patch(to: -1))
        let cause = c.bridge.localEndCause
        c.bridge.localEndCause = .normal
        let me = port, serial = c.callSerial
        let directory = self.directory
        directory.post { directory.channel(peer)?.localPeerEnded(by: me, serial: serial, cause: cause) }
    }
}
