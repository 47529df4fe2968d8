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
        core.withLock { c in
            beginCall(&c)
            c.placedHere = true
            c.details.calledNumber = service
            c.details.callingNumber = from
            c.localPeer = target.port
            c.state = .ringOutgoing
            if let timeout { c.callTimer = setTimer(&c, after: timeout) }
        }
        send(.patch(to: Int32(target.port)))
        target.beginLocalIncoming(from: port, caller: from, service: service)
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

    /// This local port is being called from `peer`: CALL_INCOMING, patched to it.
    func beginLocalIncoming(from peer: Int, caller: String, service: String) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            beginCall(&c)
            c.state = .callIncoming
            c.details.callingNumber = caller
            c.details.calledNumber = service
            c.localPeer = peer
            return pollWaiters(&c)
        }
        send(.patch(to: Int32(peer)))
        for resume in ready { resume() }
    }

    /// The local port this call reached answered it.
    func localPeerAnswered(by peer: Int) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            guard c.localPeer == peer, c.state == .ringOutgoing || c.state == .callOutgoing else { return [] }
            enterAnswered(&c)
            return pollWaiters(&c)
        }
        for resume in ready { resume() }
        reportToOwner()
    }

    /// The other end of a local call hung up, or refused it with `cause`.
    func localPeerEnded(by peer: Int, cause: CallCause) {
        let ready = core.withLock { c -> [@Sendable () -> Void] in
            guard c.localPeer == peer, c.isInCall else { return [] }
            c.localPeer = nil
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
        guard let peer = c.localPeer else { return }
        c.localPeer = nil
        send(.patch(to: -1))
        let cause = c.localEndCause
        c.localEndCause = .normal
        let me = port
        let directory = self.directory
        directory.notifications.async { directory.channel(peer)?.localPeerEnded(by: me, cause: cause) }
    }
}
