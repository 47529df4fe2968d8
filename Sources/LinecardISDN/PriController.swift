import CLibPri
import Foundation
import Glibc
import LinecardCore
import Synchronization

/// Which side of the interface a controller plays.
public enum IsdnRole: String, Sendable, Codable, CaseIterable {
    /// The user's side (TE): what a box on a carrier's line is.
    case cpe
    /// The network's side (NT): an exchange, or a box that phones or a PBX plug into.
    case network
}

/// The D-channel as libpri's I/O callbacks see it. libpri writes every frame with 2
/// placeholder bytes for the FCS a real HDLC driver fills in, and strips 2 bytes from every
/// frame it reads. A DAHDI HDLC channel works that way; over a `SOCK_SEQPACKET` socket (one
/// message a frame, no FCS) the write drops them and the read adds them back.
final class DChannelIO: @unchecked Sendable {
    enum Framing { case socket, dahdi }

    let fd: Int32
    let framing: Framing
    /// DAHDI's events on the channel are waiting (a read failed with ELAST, or poll said
    /// POLLPRI): the session takes them. The session thread's.
    var eventsPending: (() -> Void)?
    /// A cut link, for tests: every frame is lost both ways at this end.
    let cut = Atomic<Bool>(false)
    /// Frames to corrupt on arrival, for tests: a malformed frame from the far end.
    let corruptions = Atomic<Int>(0)
    let framesIn = Atomic<Int>(0)
    let framesOut = Atomic<Int>(0)
    /// Frames libpri could not take (short writes, malformed input), as it reported them.
    let errors = Atomic<Int>(0)
    /// Where libpri's messages (its decoded frames when debugging is on) go; the session
    /// thread's alone.
    var message: ((String) -> Void)?
    let lastError = Mutex<String?>(nil)
    /// Whether the last read found a frame (the session thread's): libpri's answer alone
    /// cannot tell "no frame" from "a frame that made no event".
    var readFrame = false

    init(fd: Int32, framing: Framing = .socket) {
        self.fd = fd
        self.framing = framing
    }

    func read(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int32 {
        guard capacity > 2 else { return 0 }
        if framing == .dahdi { return readHDLC(into: buffer, capacity: capacity) }
        let count = recv(fd, buffer, capacity - 2, Int32(MSG_DONTWAIT))
        readFrame = count > 0
        guard count > 0 else { return 0 }
        if cut.load(ordering: .relaxed) { return 0 }
        framesIn.add(1, ordering: .relaxed)
        if corruptions.load(ordering: .relaxed) > 0 {
            corruptions.subtract(1, ordering: .relaxed)
            // A frame whose address and control fields are garbage.
            let bytes = buffer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<min(count, 4) { bytes[i] ^= 0xA5 }
        }
        (buffer + count).storeBytes(of: 0, as: UInt8.self)
        (buffer + count + 1).storeBytes(of: 0, as: UInt8.self)
        return Int32(count + 2)
    }

    /// One frame from a DAHDI HDLC channel, its FCS included.
    private func readHDLC(into buffer: UnsafeMutableRawPointer, capacity: Int) -> Int32 {
        let count = Glibc.read(fd, buffer, capacity)
        readFrame = count > 0
        guard count > 2 else {
            if count < 0, errno == 500 { eventsPending?() }  // ELAST: an event is waiting
            return 0
        }
        if cut.load(ordering: .relaxed) { return 0 }
        framesIn.add(1, ordering: .relaxed)
        return Int32(count)
    }

    func write(_ buffer: UnsafeRawPointer, length: Int) -> Int32 {
        guard length > 2 else { return 0 }
        if cut.load(ordering: .relaxed) { return Int32(length) }
        if framing == .dahdi {
            guard Glibc.write(fd, buffer, length) == length else { return 0 }
            framesOut.add(1, ordering: .relaxed)
            return Int32(length)
        }
        let sent = send(fd, buffer, length - 2, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
        guard sent == length - 2 else { return 0 }
        framesOut.add(1, ordering: .relaxed)
        return Int32(length)
    }
}

private let readFrame: pri_io_cb = { pri, buffer, length in
    guard let pri, let buffer, let user = pri_get_userdata(pri) else { return 0 }
    return Unmanaged<DChannelIO>.fromOpaque(user).takeUnretainedValue().read(into: buffer, capacity: Int(length))
}

private let writeFrame: pri_io_cb = { pri, buffer, length in
    guard let pri, let buffer, let user = pri_get_userdata(pri) else { return 0 }
    return Unmanaged<DChannelIO>.fromOpaque(user).takeUnretainedValue().write(buffer, length: Int(length))
}

/// libpri's message and error hooks are process-wide; each finds its controller's I/O
/// through the userdata. Installed once, before the first controller is made.
private let hooksInstalled: Bool = {
    pri_set_message { pri, text in
        guard let pri, let text, let user = pri_get_userdata(pri) else { return }
        Unmanaged<DChannelIO>.fromOpaque(user).takeUnretainedValue().message?(String(cString: text))
    }
    pri_set_error { pri, text in
        guard let pri, let text, let user = pri_get_userdata(pri) else { return }
        let io = Unmanaged<DChannelIO>.fromOpaque(user).takeUnretainedValue()
        let line = String(cString: text).trimmingCharacters(in: .newlines)
        io.errors.add(1, ordering: .relaxed)
        io.lastError.withLock { $0 = line }
        io.message?(line)
    }
    return true
}()

/// Controllers are made on one thread at a time: libpri's timer table setup has unlocked
/// globals.
private let creation = Mutex<Void>(())

/// One libpri controller (`struct pri`) on one D-channel. libpri has no locking: the
/// controller is used only on its session's thread. libpri 1.6 has no call to free a
/// controller; one lives as long as the process.
final class PriController {
    let pri: OpaquePointer
    let io: DChannelIO
    let variant: IsdnSpanDescription.Variant
    let role: IsdnRole

    init(io: DChannelIO, role: IsdnRole, variant: IsdnSpanDescription.Variant, timers: IsdnTimers) throws(IsdnError) {
        _ = hooksInstalled
        self.io = io
        self.variant = variant
        self.role = role
        let node = role == .network ? PRI_NETWORK : PRI_CPE
        let switchType = variant == .t1 ? PRI_SWITCH_NI2 : PRI_SWITCH_EUROISDN_E1
        let user = Unmanaged.passUnretained(io).toOpaque()
        let address: Int = creation.withLock { _ in
            let made: OpaquePointer? = switch variant {
            case .e1, .t1: pri_new_cb(io.fd, node, switchType, readFrame, writeFrame, user)
            case .bri: pri_new_bri_cb(io.fd, 1, node, switchType, readFrame, writeFrame, user)
            case .briMultipoint: pri_new_bri_cb(io.fd, 0, node, switchType, readFrame, writeFrame, user)
            }
            return Int(bitPattern: made)
        }
        guard let made = OpaquePointer(bitPattern: address) else { throw IsdnError("libpri could not make a \(role.rawValue) controller for a \(variant.rawValue) span") }
        pri = made
        // Q.931 5.3.2 clearing, as Asterisk and FreeTDM run it.
        pri_hangup_fix_enable(pri, 1)
        pri_set_inbanddisconnect(pri, 1)
        for (name, milliseconds) in timers.values {
            let index = pri_timer2idx(name)
            if index >= 0 { pri_set_timer(pri, index, Int32(milliseconds)) }
        }
        _ = Unmanaged.passRetained(io)  // libpri keeps the userdata for the controller's life
    }

    /// Decoded Q.921/Q.931 frames through `io.message` (`linecard isdn trace`), or none.
    func trace(_ on: Bool) {
        pri_set_debug(pri, on ? PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q921_STATE | PRI_DEBUG_Q931_ANOMALY : 0)
    }

    /// One frame from the D-channel, and the event it made, if any.
    func readEvent() -> PriEvent? {
        pri_check_event(pri).map { PriEvent($0.pointee) }
    }

    /// Expired timers' events (libpri stops at the first timer that makes one).
    func runTimers(_ body: (PriEvent) -> Void) {
        while let event = pri_schedule_run(pri) { body(PriEvent(event.pointee)) }
    }

    /// Milliseconds until the earliest timer (0 when one is due), or nil.
    func millisecondsToNextTimer() -> Int? {
        guard let next = pri_schedule_next(pri) else { return nil }
        var now = timeval()
        gettimeofday(&now, nil)
        let milliseconds = (next.pointee.tv_sec - now.tv_sec) * 1000 + (next.pointee.tv_usec - now.tv_usec) / 1000
        return max(0, Int(milliseconds))
    }
}

/// Q.921/Q.931 timers to set, by libpri's names ("T309"), in milliseconds.
public struct IsdnTimers: Sendable, Equatable {
    public var values: [String: Int]
    public init(_ values: [String: Int] = [:]) { self.values = values }
}

/// Something ISDN could not do, in words.
public struct IsdnError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A libpri event, copied out at once (libpri reuses its storage on the next call).
enum PriEvent {
    case dChannelUp, dChannelDown
    case restart(channel: Int)
    case restartAcknowledged(channel: Int)
    case configurationError(String)
    case ring(call: OpaquePointer, channel: Int, called: String, calling: String, presentation: Int32, complete: Bool)
    case proceeding(call: OpaquePointer, channel: Int, inband: Bool)
    case progress(call: OpaquePointer, channel: Int, inband: Bool, cause: Int)
    case ringing(call: OpaquePointer, channel: Int, inband: Bool)
    case answer(call: OpaquePointer, channel: Int)
    /// DISCONNECT received.
    case hangupRequest(call: OpaquePointer, channel: Int, cause: Int)
    /// RELEASE or RELEASE COMPLETE received, or libpri cleared the call itself.
    case hangup(call: OpaquePointer, channel: Int, cause: Int)
    /// The clearing this side began is complete; libpri has freed the call.
    case hangupAcknowledged(call: OpaquePointer, channel: Int)
    case other(Int32)

    init(_ e: pri_event) {
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
        }
        func channel(_ value: Int32) -> Int { value < 0 ? -1 : Int(value & 0xFF) }
        let inbandBit = Int32(PRI_PROG_INBAND_AVAILABLE)
        switch e.e {
        case PRI_EVENT_DCHAN_UP: self = .dChannelUp
        case PRI_EVENT_DCHAN_DOWN: self = .dChannelDown
        case PRI_EVENT_RESTART: self = .restart(channel: channel(e.restart.channel))
        case PRI_EVENT_RESTART_ACK: self = .restartAcknowledged(channel: channel(e.restartack.channel))
        case PRI_EVENT_CONFIG_ERR: self = .configurationError(text(e.err.err))
        case PRI_EVENT_RING:
            let ring = e.ring
            guard let call = ring.call else { self = .other(e.e); return }
            self = .ring(call: call, channel: channel(ring.channel), called: text(ring.callednum), calling: text(ring.callingnum),
                         presentation: ring.callingpres, complete: ring.complete != 0)
        case PRI_EVENT_PROCEEDING:
            guard let call = e.proceeding.call else { self = .other(e.e); return }
            self = .proceeding(call: call, channel: channel(e.proceeding.channel), inband: e.proceeding.progressmask & inbandBit != 0)
        case PRI_EVENT_PROGRESS:
            guard let call = e.proceeding.call else { self = .other(e.e); return }
            self = .progress(call: call, channel: channel(e.proceeding.channel), inband: e.proceeding.progressmask & inbandBit != 0,
                             cause: Int(e.proceeding.cause))
        case PRI_EVENT_RINGING:
            guard let call = e.ringing.call else { self = .other(e.e); return }
            self = .ringing(call: call, channel: channel(e.ringing.channel), inband: e.ringing.progressmask & inbandBit != 0)
        case PRI_EVENT_ANSWER:
            guard let call = e.answer.call else { self = .other(e.e); return }
            self = .answer(call: call, channel: channel(e.answer.channel))
        case PRI_EVENT_HANGUP_REQ:
            guard let call = e.hangup.call else { self = .other(e.e); return }
            self = .hangupRequest(call: call, channel: channel(e.hangup.channel), cause: Int(e.hangup.cause))
        case PRI_EVENT_HANGUP:
            guard let call = e.hangup.call else { self = .other(e.e); return }
            self = .hangup(call: call, channel: channel(e.hangup.channel), cause: Int(e.hangup.cause))
        case PRI_EVENT_HANGUP_ACK:
            guard let call = e.hangup.call else { self = .other(e.e); return }
            self = .hangupAcknowledged(call: call, channel: channel(e.hangup.channel))
        default: self = .other(e.e)
        }
    }
}
