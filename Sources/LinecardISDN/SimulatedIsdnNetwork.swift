import CLibPri
import Linecard
import LinecardCore
import SimulatedCard
import Synchronization

/// The simulated exchange's ISDN side: libpri as the network (NT) on the exchange's end of a
/// `SimulatedCard` span's D-channel, turning Q.931 into the exchange's routing and the
/// B-channels' progress back into Q.931: a SETUP for 200 is answered, 300 is cleared with
/// cause 17, 400 rings until the exchange gives up (cause 19), 500 gets cause 1, 600 cause 34,
/// and a call the tests place towards a B-channel arrives as a SETUP with its calling number.
/// Its own thread owns the controller; the exchange's signals are read on each pass.
public final class SimulatedIsdnNetwork: @unchecked Sendable {
    private let sim: SimulatedCard
    private let span: IsdnSpanDescription
    private let thread: PriThread
    private let controller: PriController
    /// The B-channel's call, by port (the thread's own).
    private var calls: [Int: OpaquePointer] = [:]
    private let up = Atomic<Bool>(false)
    private let answering: Answering

    /// How the network treats a SETUP from the card.
    public enum Answering: Sendable {
        /// The exchange routes the number by its numbering plan (the default).
        case byNumberingPlan
        /// Every call is answered at once (CALL PROCEEDING, ALERTING, CONNECT), whatever its
        /// number, with no far end on the B-channel: a load for benchmarks of call setup.
        case atOnce
    }

    /// - Parameters:
    ///   - timers: libpri timers changed from their defaults (tests shorten the link's
    ///     T200/T203 so that a cut link is seen in seconds).
    ///   - answering: how calls from the card are treated.
    public init(card sim: SimulatedCard, timers: IsdnTimers = IsdnTimers(), answering: Answering = .byNumberingPlan) throws(IsdnError) {
        self.answering = answering
        guard let span = sim.isdnSpans.first, sim.isdnNetworkSocket >= 0 else {
            throw IsdnError("\(sim.name) has no ISDN span: make it with SimulatedCard(isdn:)")
        }
        self.sim = sim
        self.span = span
        controller = try PriController(io: DChannelIO(fd: sim.isdnNetworkSocket), role: .network, variant: span.variant, timers: timers)
        thread = try PriThread(name: "linecard-isdn-network \(span.name)")
        thread.controller = controller
        // The exchange's B-channels are read every few milliseconds, a fraction of a block.
        thread.longestWait = 5
        thread.handle = { [unowned self] event in handle(event) }
        thread.onPass = { [unowned self] in readSignals() }
        thread.start()
    }

    deinit { thread.stop() }

    public func stop() { thread.stop() }

    /// Whether the network's side of the D-channel is up.
    public var isUp: Bool { up.load(ordering: .acquiring) }

    /// Cuts the D-channel (every frame lost at the network's end) or mends it.
    public func cutLink(_ cut: Bool) { controller.io.cut.store(cut, ordering: .relaxed) }

    /// The next `count` frames from the card arrive at the network corrupted.
    public func corruptFrames(_ count: Int) { controller.io.corruptions.add(count, ordering: .relaxed) }

    /// Sends RESTART for B-channel `channel` (its number in the span): the network forgets
    /// the channel's call, and so must the card.
    public func restart(channel: Int) {
        thread.post { [self] in
            if let port = span.bearers[channel], let call = calls[port] {
                pri_destroycall(controller.pri, call)
                calls[port] = nil
                try? sim.networkRelease(port: port)
            }
            _ = pri_reset(controller.pri, Int32(channel))
        }
    }

    private func channel(ofPort port: Int) -> Int32 {
        Int32(span.bearers.first { $0.value == port }?.key ?? 0)
    }

    private func handle(_ event: PriEvent) {
        switch event {
        case .dChannelUp: up.store(true, ordering: .releasing)
        case .dChannelDown: up.store(false, ordering: .releasing)
        case .ring(let call, let channel, let called, _, _, _):
            guard let port = span.bearers[channel], calls[port] == nil else {
                pri_hangup(controller.pri, call, Int32(Q850Cause.requestedChannelNotAvailable.value))
                return
            }
            calls[port] = call
            pri_proceeding(controller.pri, call, Int32(channel), 0)
            if answering == .atOnce {
                pri_acknowledge(controller.pri, call, Int32(channel), 1)
                pri_answer(controller.pri, call, Int32(channel), 0)
                return
            }
            do { try sim.networkSeize(port: port, number: called) } catch {
                pri_hangup(controller.pri, call, Int32(Q850Cause.invalidNumberFormat.value))
            }
        case .answer(let call, _):
            if let port = port(of: call) { try? sim.networkAnswerOffered(port: port) }
        case .hangupRequest(let call, _, let cause):
            pri_hangup(controller.pri, call, Int32(cause))
            ended(call)
        case .hangup(let call, _, let cause):
            pri_hangup(controller.pri, call, Int32(cause))
            ended(call)
        case .hangupAcknowledged(let call, _):
            ended(call)
        default: break
        }
    }

    private func port(of call: OpaquePointer) -> Int? { calls.first { $0.value == call }?.key }

    /// The terminal's side of `call` is over: the exchange's line is let go.
    private func ended(_ call: OpaquePointer) {
        guard let port = port(of: call) else { return }
        calls[port] = nil
        // Calls answered at once never reached the exchange's lines.
        if answering == .byNumberingPlan { try? sim.networkRelease(port: port) }
    }

    private func readSignals() {
        while let signal = sim.nextNetworkSignal() {
            let port = Int(signal.port)
            switch signal.kind {
            case .alerting:
                if let call = calls[port] { pri_acknowledge(controller.pri, call, channel(ofPort: port), 1) }
            case .answered:
                if let call = calls[port] { pri_answer(controller.pri, call, channel(ofPort: port), 0) }
            case .cleared:
                // The call stays known until the terminal's RELEASE, which frees the channel.
                if let call = calls[port] { pri_hangup(controller.pri, call, signal.cause) }
            case .offering:
                let caller = Int(signal.cause)
                offer(port: port, from: caller >= 0 ? OfferedCall(callingNumber: sim.number(ofPort: caller), presentationAllowed: true)
                                                    : sim.offeredCall(port: port))
            }
        }
    }

    private func offer(port: Int, from offered: OfferedCall?) {
        guard calls[port] == nil, let offered, let call = pri_new_call(controller.pri) else {
            try? sim.networkRelease(port: port)
            return
        }
        let request = pri_sr_new()
        defer { pri_sr_free(request) }
        pri_sr_set_channel(request, channel(ofPort: port), 1, 0)
        pri_sr_set_bearer(request, PRI_TRANS_CAP_SPEECH, span.variant == .t1 ? PRI_LAYER_1_ULAW : PRI_LAYER_1_ALAW)
        var called = Array(sim.number(ofPort: port).utf8CString)
        pri_sr_set_called(request, &called, PRI_UNKNOWN, 1)
        var calling = Array(offered.callingNumber.utf8CString)
        pri_sr_set_caller(request, &calling, nil, PRI_UNKNOWN,
                          offered.presentationAllowed ? PRES_ALLOWED_USER_NUMBER_NOT_SCREENED : PRES_PROHIB_USER_NUMBER_NOT_SCREENED)
        guard pri_setup(controller.pri, call, request) == 0 else {
            pri_destroycall(controller.pri, call)
            try? sim.networkRelease(port: port)
            return
        }
        calls[port] = call
    }
}
