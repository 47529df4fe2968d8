import Glibc
import Linecard
import LinecardCore

/// ISDN call control for a card's spans: a libpri session per D-channel, each on its own
/// thread, and the `CallControl` the card's B-channel ports use.
///
///     let stack = try IsdnStack(card: backend)
///     let card = try Card(backend: backend, callControl: stack)
///     stack.start(card)
public final class IsdnStack: CallControl, Sendable {
    private let sessions: [IsdnSpanSession]
    /// The session of each B-channel port.
    private let sessionOfPort: [Int: IsdnSpanSession]

    /// Makes a session for every span of `backend`, as `role` (the user's side by default),
    /// with `timers` changed from libpri's defaults.
    public init(card backend: any IsdnCard, role: IsdnRole = .cpe, timers: IsdnTimers = IsdnTimers()) throws(IsdnError) {
        let spans = backend.isdnSpans
        guard !spans.isEmpty else { throw IsdnError("\(backend.name) has no ISDN span") }
        var sessions: [IsdnSpanSession] = []
        var byPort: [Int: IsdnSpanSession] = [:]
        for span in spans {
            let session = try IsdnSpanSession(span: span, role: role, timers: timers)
            sessions.append(session)
            for port in span.bearers.values { byPort[port] = session }
        }
        self.sessions = sessions
        sessionOfPort = byPort
    }

    /// Starts every span's thread; what the network says goes to `card`.
    public func start(_ card: Card) {
        for session in sessions { session.start(card: card) }
    }

    /// Waits until every span's D-channel is up, up to `timeout` of wall-clock time (the
    /// link's own timers run on it); false if one is still down.
    public func waitUntilUp(timeout: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if status.allSatisfy(\.dChannelUp) { return true }
            usleep(1000)
        }
        return status.allSatisfy(\.dChannelUp)
    }

    /// Stops every span's thread (calls in progress are not cleared: stop after the card).
    public func stop() {
        for session in sessions { session.stop() }
    }

    /// Each span's D-channel and B-channels, now.
    public var status: [IsdnSpanStatus] { sessions.map(\.currentStatus) }

    /// Hands every span's decoded Q.921/Q.931 messages to `sink` as they pass, a line at a
    /// time, each led by the span's name (like Asterisk's `pri set debug`); nil stops.
    /// `sink` runs on the spans' threads.
    public func trace(_ sink: (@Sendable (String) -> Void)?) {
        for session in sessions { session.trace(sink) }
    }

    /// Test faults on span `span`'s D-channel at this end: every frame lost (a cut link) until
    /// `cutLink(false)`.
    public func cutLink(span: Int = 0, _ cut: Bool) { sessions[span].cutLink(cut) }

    /// Test faults: the next `count` frames to arrive on span `span` come corrupted.
    public func corruptFrames(span: Int = 0, _ count: Int) { sessions[span].corruptFrames(count) }

    // MARK: CallControl

    public func place(_ setup: OutgoingCallSetup, port: Int, call: Int) { sessionOfPort[port]?.place(setup, port: port, call: call) }
    public func answer(port: Int, call: Int) { sessionOfPort[port]?.answer(port: port, call: call) }
    public func clear(port: Int, call: Int, cause: Q850Cause) { sessionOfPort[port]?.clear(port: port, call: call, cause: cause) }
}
