import CDahdi
import LinecardCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An ISDN span's D-channel on DAHDI: a channel configured `dchan=` (software HDLC with FCS,
/// E1/T1) or `hardhdlc=` (the card's HDLC, BRI), opened non-blocking. One `read` is one
/// frame with its 2 FCS bytes; one `write` is one frame with 2 placeholder bytes for the FCS
/// the driver fills in. Line trouble arrives as DAHDI events (a read then fails with ELAST
/// and `poll` reports POLLPRI): `nextEvent()` takes them.
public final class DahdiDChannel: Sendable {
    public let channel: Int
    private let descriptor: DahdiChannelDescriptor
    private let closed = Atomic<Bool>(false)

    public var fileDescriptor: Int32 { descriptor.fd.rawValue }

    /// Opens DAHDI channel `channel` as a D-channel: it must be configured for HDLC with FCS.
    public init(channel: Int, channelPath: String = LC_DAHDI_CHANNEL_PATH) throws(DahdiError) {
        self.channel = channel
        descriptor = try DahdiChannelDescriptor.open(channelPath, channel: channel)
        do throws(DahdiError) {
            try descriptor.specify(channel)
            guard let params = descriptor.parameters() else {
                throw DahdiError(device: descriptor.device, operation: "reading its parameters", errno: .ofLastCall)
            }
            let signalling = DahdiSignalling(rawValue: params.sigtype)
            guard signalling == .hdlcFCS || signalling == .hardHDLC else {
                throw DahdiError(device: descriptor.device,
                                 operation: "opening it as a D-channel: it is configured \(DahdiScanner.signallingName(params.sigtype)), not dchan= or hardhdlc= (HDLC with FCS)",
                                 errno: .invalidArgument)
            }
            // Frames as they come, up to 32 of 1024 bytes queued each way.
            var buffers = DahdiBufferInfo(txbufpolicy: CInt(DahdiPolicyImmediate), rxbufpolicy: CInt(DahdiPolicyImmediate),
                                          numbufs: 32, bufsize: 1024, readbufs: 0, writebufs: 0)
            guard dahdi_ioctl_bufinfo(descriptor.fd.rawValue, DahdiSetBufInfo, &buffers) == 0 else {
                throw DahdiError(device: descriptor.device, operation: "setting its HDLC buffers", errno: .ofLastCall)
            }
        } catch {
            descriptor.close()
            throw error
        }
    }

    deinit { close() }

    /// Gives the channel back (another program may then open it); once.
    public func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        descriptor.close()
    }

    /// The next DAHDI event on the channel (`DahdiEventAlarm`, `DahdiEventBadFCS`, …), or nil.
    public func nextEvent() -> Int32? {
        if case .done(let event) = descriptor.nextEvent(), event != 0 { return Int32(event) }
        return nil
    }

    /// Whether the span is in alarm now (RED, YELLOW, BLUE, LOS, …).
    public var alarmed: Bool {
        guard let params = descriptor.parameters() else { return true }
        return params.chan_alarms != 0
    }
}

/// What a D-channel's DAHDI event means to its span.
public enum DChannelEvent: Sendable, Equatable {
    case badFCS, abort, overrun, alarm, alarmCleared, removed, other(Int32)

    public init(_ event: Int32) {
        switch event {
        case Int32(DahdiEventBadFCS): self = .badFCS
        case Int32(DahdiEventAbort): self = .abort
        case Int32(DahdiEventOverrun): self = .overrun
        case Int32(DahdiEventAlarm): self = .alarm
        case Int32(DahdiEventNoAlarm): self = .alarmCleared
        case Int32(DahdiEventRemoved): self = .removed
        default: self = .other(event)
        }
    }
}
