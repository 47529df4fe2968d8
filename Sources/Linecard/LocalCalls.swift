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
        let mine = core.withLock { c -> Int in
            beginCall(&c)
            c.placedHere = true
            c.details.calledNumber = service
            c.details.callingNumber = from
            c.bridge.localPeer = target.port
            c.state = .ringOutgoing
            if let timeout { c.callTimer = setTimer(&c, .call, after: timeout) }
            return c.callSerial
        }
        send(.patch(to: Int32(target.port)))
        let theirs = target.beginLocalIncoming(from: port, serial: mine, caller: from, service: service)
        core.withLock { c in if c.callSerial == mine { c.bridge.localPeerSerial = theirs } }
        let directory = self.directory
        Task {
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

    /// This local port is being called from `peer`'s call `serial`: CALL_INCOMING, patched
    /// to it. Returns this side's call serial, which the caller's notices are checked against
    /// here and this side's against there.
    func beginLocalIncoming(from peer: Int, serial: Int, caller: String, service: String) -> Int {
        let (ready, mine) = core.withLock { c -> ([@Sendable () -> Void], Int) in
            beginCall(&c)
            c.state = .callIncoming
            c.details.callingNumber = caller
            c.details.calledNumber = service
            c.bridge.localPeer = peer
            c.bridge.localPeerSerial = serial
            return (pollWaiters(&c), c.callSerial)
        }
        send(.patch(to: Int32(peer)))
        for resume in ready { resume() }
        return mine
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
        directory.notifications.async { directory.channel(peer)?.localPeerEnded(by: me, serial: serial, cause: cause) }
    }
}
