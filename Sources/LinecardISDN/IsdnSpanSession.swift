import CLibPri
import DahdiCard
import Foundation
import Linecard
import LinecardCore
import Synchronization

/// A B-channel as its span's session keeps it.
public enum BChannelState: String, Sendable, Codable {
    case idle
    /// A call on it is being set up or is answered.
    case inCall = "in call"
    /// This side has begun clearing its call; free once the network confirms.
    case clearing
    /// This side sent RESTART (after the D-channel came up); free at RESTART ACKNOWLEDGE.
    case restarting
    /// The D-channel is down: no call can be placed on it.
    case outOfService = "out of service"
}

/// One span's call control: one libpri controller on the span's D-channel, on a thread of its
/// own, with the table of its B-channels. The card's channels post commands to it (through
/// `IsdnStack`), and it delivers what the network says to the card (`Card.deliver`), in the
/// order the network said it. The table and the controller are the thread's alone.
final class IsdnSpanSession: @unchecked Sendable {
    let description: IsdnSpanDescription
    let role: IsdnRole
    private let thread: PriThread
    private let controller: PriController
    /// The D-channel on DAHDI (nil: a socket pair, the simulated span's).
    private let dahdi: DahdiDChannel?

    private struct BChannel {
        let number: Int
        let port: Int
        var state = BChannelState.idle
        var call: OpaquePointer?
        /// The card's name for the call (`CallControl`); nil once the card is told it ended.
        var reference: Int?
        /// An incoming call not yet answered.
        var offered = false
        /// A SETUP waiting for the channel's last call to finish clearing.
        var pending: (setup: OutgoingCallSetup, reference: Int)?
    }

    // The thread's own.
    private var channels: [BChannel]
    private var card: Card?
    private var nextIncoming = -1
    private var dChannelUp = false
    /// When channels still restarting are taken for idle: a network that never acknowledges
    /// must not keep them out of use.
    private var restartDeadline: ContinuousClock.Instant?
    static let restartPatience = Duration.seconds(4)

    /// What other threads may read: the D-channel's state and each B-channel's.
    let status: Mutex<IsdnSpanStatus>

    init(span: IsdnSpanDescription, role: IsdnRole, timers: IsdnTimers) throws(IsdnError) {
        let io: DChannelIO
        switch span.dChannel {
        case .socket(let fd):
            io = DChannelIO(fd: fd)
            dahdi = nil
        case .dahdi(let channel):
            let opened: DahdiDChannel
            do { opened = try DahdiDChannel(channel: channel) } catch { throw IsdnError("span \(span.name): \(error)") }
            io = DChannelIO(fd: opened.fileDescriptor, framing: .dahdi)
            dahdi = opened
        }
        description = span
        self.role = role
        controller = try PriController(io: io, role: role, variant: span.variant, timers: timers)
        thread = try PriThread(name: "linecard-isdn \(span.name)")
        channels = span.bearers.sorted { $0.key < $1.key }.map { BChannel(number: $0.key, port: $0.value) }
        status = Mutex(IsdnSpanStatus(name: span.name, variant: span.variant, role: role, dChannelUp: false,
                                      bChannels: channels.map { .init(channel: $0.number, port: $0.port, state: .outOfService) }))
        for i in channels.indices { channels[i].state = .outOfService }
        thread.controller = controller
        thread.handle = { [unowned self] event in handle(event) }
        thread.onPass = { [unowned self] in giveUpRestarts() }
        if let dahdi {
            io.eventsPending = { [unowned self] in takeEvents(dahdi) }
            let alarmed = dahdi.alarmed
            status.withLock { $0.alarmed = alarmed }
        }
    }

    func start(card: Card) {
        thread.post { [self] in
            self.card = card
            // Until the link is up, the B-channels take no call.
            guard !dChannelUp else { return }
            for channel in channels {
                card.deliver(.service(outOfService: "the D-channel of ISDN span \(description.name) is down"), port: channel.port, call: nil)
            }
        }
        thread.start()
    }

    /// Stops the thread and lets go of the card and the D-channel (on DAHDI another program
    /// may open it then).
    func stop() {
        thread.stop()
        card = nil
        dahdi?.close()
    }


    // MARK: Commands (any thread; they run on the session's)

    func place(_ setup: OutgoingCallSetup, port: Int, call: Int) {
        thread.post { [self] in placeNow(setup, port: port, reference: call) }
    }

    func answer(port: Int, call: Int) {
        thread.post { [self] in
            guard let i = index(port: port), channels[i].reference == call, channels[i].offered, let handle = channels[i].call else { return }
            channels[i].offered = false
            pri_answer(controller.pri, handle, Int32(channels[i].number), 0)
        }
    }

    func clear(port: Int, call: Int, cause: Q850Cause) {
        thread.post { [self] in
            guard let i = index(port: port) else { return }
            if channels[i].pending?.reference == call {
                channels[i].pending = nil
                return
            }
            guard channels[i].reference == call else { return }
            channels[i].reference = nil
            channels[i].offered = false
            guard let handle = channels[i].call else { return setIdle(i) }
            channels[i].state = .clearing
            publish(i)
            pri_hangup(controller.pri, handle, Int32(cause.value))
        }
    }

    /// The span's state with its D-channel's frame counters, now.
    var currentStatus: IsdnSpanStatus {
        var now = status.withLock { $0 }
        let io = controller.io
        now.framesIn = io.framesIn.load(ordering: .relaxed)
        now.framesOut = io.framesOut.load(ordering: .relaxed)
        now.frameErrors = io.errors.load(ordering: .relaxed)
        now.lastError = io.lastError.withLock { $0 }
        return now
    }

    /// Hands each decoded Q.921/Q.931 message to `sink`, a line at a time, or stops (nil).
    func trace(_ sink: (@Sendable (String) -> Void)?) {
        let name = description.name
        thread.post { [self] in
            guard let sink else {
                controller.io.message = nil
                controller.trace(false)
                return
            }
            var pending = ""
            // libpri writes its decoding in pieces; a line is complete at its newline.
            controller.io.message = { text in
                pending += text
                while let end = pending.firstIndex(of: "\n") {
                    let line = String(pending[..<end])
                    pending = String(pending[pending.index(after: end)...])
                    if !line.trimmingCharacters(in: .whitespaces).isEmpty { sink("\(name) \(line)") }
                }
            }
            controller.trace(true)
        }
    }

    /// Test faults: every D-channel frame lost at this end (a cut link), or the next
    /// `count` frames to arrive corrupted.
    func cutLink(_ cut: Bool) { controller.io.cut.store(cut, ordering: .relaxed) }
    func corruptFrames(_ count: Int) { controller.io.corruptions.add(count, ordering: .relaxed) }

    // MARK: On the thread

    private func index(port: Int) -> Int? { channels.firstIndex { $0.port == port } }
    private func index(call: OpaquePointer) -> Int? { channels.firstIndex { $0.call == call } }
    private func index(channel: Int) -> Int? { channels.firstIndex { $0.number == channel } }

    private func deliver(_ event: CallControlEvent, _ i: Int) {
        card?.deliver(event, port: channels[i].port, call: channels[i].reference)
    }

    private func publish(_ i: Int) {
        let state = channels[i].state
        status.withLock { $0.bChannels[i].state = state }
    }

    private func setIdle(_ i: Int) {
        channels[i].call = nil
        channels[i].reference = nil
        channels[i].offered = false
        channels[i].state = dChannelUp ? .idle : .outOfService
        publish(i)
        if let (setup, reference) = channels[i].pending {
            channels[i].pending = nil
            placeNow(setup, port: channels[i].port, reference: reference)
        }
    }

    private func placeNow(_ setup: OutgoingCallSetup, port: Int, reference: Int) {
        guard let i = index(port: port) else { return }
        guard dChannelUp else {
            card?.deliver(.cleared(.networkOutOfOrder), port: port, call: reference)
            return
        }
        switch channels[i].state {
        case .clearing, .restarting:
            channels[i].pending = (setup, reference)
            return
        case .inCall, .outOfService:
            // An incoming call took the channel first (glare): the network's call wins.
            card?.deliver(.cleared(.requestedChannelNotAvailable), port: port, call: reference)
            return
        case .idle:
            break
        }
        guard let call = pri_new_call(controller.pri) else {
            card?.deliver(.cleared(.temporaryFailure), port: port, call: reference)
            return
        }
        let request = pri_sr_new()
        defer { pri_sr_free(request) }
        pri_sr_set_channel(request, Int32(channels[i].number), 1, 0)
        pri_sr_set_bearer(request, PRI_TRANS_CAP_SPEECH, description.variant == .t1 ? PRI_LAYER_1_ULAW : PRI_LAYER_1_ALAW)
        var number = Array(setup.number.digits.utf8CString)
        pri_sr_set_called(request, &number, PRI_UNKNOWN, 1)
        var calling = Array(setup.callingNumber.utf8CString)
        if !setup.callingNumber.isEmpty {
            pri_sr_set_caller(request, &calling, nil, PRI_UNKNOWN, PRES_ALLOWED_USER_NUMBER_NOT_SCREENED)
        }
        guard pri_setup(controller.pri, call, request) == 0 else {
            pri_destroycall(controller.pri, call)
            card?.deliver(.cleared(.temporaryFailure), port: port, call: reference)
            return
        }
        channels[i].call = call
        channels[i].reference = reference
        channels[i].state = .inCall
        publish(i)
    }

    private func handle(_ event: PriEvent) {
        switch event {
        case .dChannelUp: setDChannel(up: true)
        case .dChannelDown: setDChannel(up: false)
        case .ring(let call, let channel, let called, let calling, let presentation, _):
            offer(call, channel: channel, called: called, calling: calling, presentation: presentation)
        case .proceeding(let call, _, let inband):
            if let i = index(call: call) { deliver(.proceeding(inbandAvailable: inband), i) }
        case .progress(let call, _, let inband, let cause):
            if let i = index(call: call) { deliver(.progress(inbandAvailable: inband, cause: cause > 0 ? Q850Cause(cause) : nil), i) }
        case .ringing(let call, _, let inband):
            if let i = index(call: call) { deliver(.alerting(inbandAvailable: inband), i) }
        case .answer(let call, _):
            if let i = index(call: call) { deliver(.answered, i) }
        case .hangupRequest(let call, _, let cause):
            // DISCONNECT: answer it with RELEASE; the channel is free at RELEASE COMPLETE.
            guard let i = index(call: call) else {
                pri_hangup(controller.pri, call, Int32(cause))
                return
            }
            deliver(.cleared(Q850Cause(cause)), i)
            channels[i].reference = nil
            channels[i].state = .clearing
            publish(i)
            pri_hangup(controller.pri, call, Int32(cause))
        case .hangup(let call, _, let cause):
            // libpri frees the call once it is told.
            pri_hangup(controller.pri, call, Int32(cause))
            guard let i = index(call: call) else { return }
            deliver(.cleared(Q850Cause(cause)), i)
            setIdle(i)
        case .hangupAcknowledged(let call, _):
            if let i = index(call: call) {
                deliver(.cleared(.normalClearing), i)
                setIdle(i)
            }
        case .restart(let channel):
            for i in channels.indices where channel < 0 || channels[i].number == channel {
                if let call = channels[i].call {
                    deliver(.cleared(.temporaryFailure), i)
                    pri_destroycall(controller.pri, call)
                }
                channels[i].pending = nil
                setIdle(i)
            }
        case .configurationError(let text):
            controller.io.lastError.withLock { $0 = text }
        case .restartAcknowledged(let channel):
            for i in channels.indices where channels[i].state == .restarting && (channel < 0 || channels[i].number == channel) {
                setIdle(i)
            }
        case .other:
            break
        }
    }

    private func setDChannel(up: Bool) {
        guard dChannelUp != up else { return }
        dChannelUp = up
        status.withLock {
            $0.dChannelUp = up
            $0.dChannelChanges += 1
        }
        let reason = up ? nil : "the D-channel of ISDN span \(description.name) is down"
        // Once the link is up, the user's side restarts its idle channels, so that both sides
        // agree they are free (not on a multipoint bus, where RESTART cannot be sent).
        let restart = up && role == .cpe && description.variant != .briMultipoint
        for i in channels.indices {
            if channels[i].state == .idle || channels[i].state == .outOfService || channels[i].state == .restarting {
                channels[i].state = up ? .idle : .outOfService
                if restart, pri_reset(controller.pri, Int32(channels[i].number)) == 0 {
                    channels[i].state = .restarting
                    restartDeadline = .now + Self.restartPatience
                    thread.longestWait = 500
                }
                publish(i)
            }
            card?.deliver(.service(outOfService: reason), port: channels[i].port, call: nil)
        }
    }

    /// DAHDI's events on the D-channel: frame errors counted, the span's alarm kept.
    private func takeEvents(_ dahdi: DahdiDChannel) {
        while let event = dahdi.nextEvent() {
            status.withLock { status in
                switch DChannelEvent(event) {
                case .badFCS, .abort, .overrun: status.hdlcErrors += 1
                case .alarm, .removed: status.alarmed = true
                case .alarmCleared: status.alarmed = false
                case .other: break
                }
            }
        }
    }

    private func giveUpRestarts() {
        guard let deadline = restartDeadline, ContinuousClock.now >= deadline else { return }
        restartDeadline = nil
        thread.longestWait = nil
        for i in channels.indices where channels[i].state == .restarting { setIdle(i) }
    }

    private func offer(_ call: OpaquePointer, channel: Int, called: String, calling: String, presentation: Int32) {
        // "Any channel" takes a free one; a named one must be free. A SETUP on a channel being
        // restarted ends the restart: the network takes the channel as free.
        let i = channel < 0 ? channels.firstIndex { $0.state == .idle } : index(channel: channel)
        if let i, channels[i].state == .restarting { channels[i].state = .idle }
        guard let i, channels[i].state == .idle, card != nil else {
            // Both causes go out as RELEASE COMPLETE, which needs no PROCEEDING first.
            pri_hangup(controller.pri, call, Int32(channel < 0 ? Q850Cause.noCircuitAvailable.value : Q850Cause.requestedChannelNotAvailable.value))
            return
        }
        let reference = nextIncoming
        nextIncoming = nextIncoming == Int.min ? -1 : nextIncoming - 1
        channels[i].call = call
        channels[i].reference = reference
        channels[i].offered = true
        channels[i].state = .inCall
        publish(i)
        // PROCEEDING before anything else: a call refused before it is sent nothing at all.
        pri_proceeding(controller.pri, call, Int32(channels[i].number), 0)
        pri_acknowledge(controller.pri, call, Int32(channels[i].number), 0)
        let shown: CallerIDStatus = switch presentation & PRI_PRES_RESTRICTION {
        case PRI_PRES_RESTRICTED: .withheld
        case PRI_PRES_UNAVAILABLE: .unavailable
        default: .received
        }
        deliver(.incoming(IncomingCallSetup(calledNumber: called, callingNumber: calling, callingNumberPresentation: shown)), i)
    }
}

/// A span's state, for `linecard isdn status` and the gateway.
public struct IsdnSpanStatus: Sendable, Codable, Equatable {
    public struct BChannel: Sendable, Codable, Equatable {
        public var channel: Int
        public var port: Int
        public var state: BChannelState
    }

    public var name: String
    public var variant: IsdnSpanDescription.Variant
    public var role: IsdnRole
    public var dChannelUp: Bool
    public var bChannels: [BChannel]
    /// Times the D-channel went up or down since the span started.
    public var dChannelChanges = 0
    /// D-channel frames received and sent.
    public var framesIn = 0
    public var framesOut = 0
    /// Frames libpri refused or could not send, and the last such error in its words.
    public var frameErrors = 0
    public var lastError: String?
    /// On DAHDI: frames the driver dropped (bad FCS, abort, overrun), and whether the span
    /// is in alarm.
    public var hdlcErrors = 0
    public var alarmed = false
}
