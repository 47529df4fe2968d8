import CDahdi
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Why a DAHDI device refused: the device, what was asked, and the kernel's answer as
/// swift-system's `Errno`. `reason` sorts the answers a person can act on; `description`
/// says what to do.
public struct DahdiError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// Another program (Asterisk?) has the channel.
        case busy
        /// This user may not open the device.
        case permission
        /// The device file is missing: the DAHDI modules are not loaded.
        case missingDriver
        /// The channel went away (the card or its driver was removed).
        case gone
        /// Anything else the device said.
        case io
    }

    /// The device path, or "DAHDI channel N" once a channel is chosen.
    public let device: String
    /// What was being done, in words: "opening it", "a block of 160 samples".
    public let operation: String
    public let errno: Errno

    public var reason: Reason {
        switch errno {
        case .resourceBusy: .busy
        case .permissionDenied, .notPermitted: .permission
        case .noSuchFileOrDirectory: .missingDriver
        case .operationNotSupportedByDevice, .noSuchAddressOrDevice: .gone
        default: .io
        }
    }

    public var description: String {
        switch reason {
        case .busy:
            "\(device) is in use by another program (Asterisk?)"
        case .permission:
            "no permission to open \(device): add yourself to the telephony group (see udev/60-linecard.rules and README \"Hardware access\")"
        case .missingDriver:
            "\(device) does not exist: the DAHDI kernel modules are not loaded (modprobe dahdi and the card's driver, then dahdi_cfg)"
        case .gone:
            "\(device): \(operation): the device has gone (\(errno))"
        case .io:
            "\(device): \(operation): \(errno)"
        }
    }
}

/// DAHDI's own errno for "an event is waiting: read it with DAHDI_GETEVENT" (ELAST).
extension Errno {
    static var dahdiEventPending: Errno { Errno(rawValue: DahdiErrnoEventPending) }

    /// What the C call just made set (swift-system keeps its own accessor internal).
    @inline(__always)
    static var ofLastCall: Errno { Errno(rawValue: Glibc.errno) }
}

/// DAHDI's signalling types as a set of bits (`DAHDI_SIG_*`): the kind of line a channel
/// is configured for, as dahdi_cfg set it from system.conf.
public struct DahdiSignalling: OptionSet, Sendable, Hashable {
    public let rawValue: CInt
    public init(rawValue: CInt) { self.rawValue = rawValue }

    /// FXS signalling: the channel faces an exchange (a Linecard FXO port).
    public static let fxs = DahdiSignalling(rawValue: DahdiSigFXS)
    /// FXO signalling: the channel faces a telephone (a Linecard FXS port).
    public static let fxo = DahdiSignalling(rawValue: DahdiSigFXO)
    public static let fxsLoopStart = DahdiSignalling(rawValue: DahdiSigFXSLS)
    public static let fxsGroundStart = DahdiSignalling(rawValue: DahdiSigFXSGS)
    public static let fxsKewlStart = DahdiSignalling(rawValue: DahdiSigFXSKS)
    public static let fxoLoopStart = DahdiSignalling(rawValue: DahdiSigFXOLS)
    public static let fxoGroundStart = DahdiSignalling(rawValue: DahdiSigFXOGS)
    public static let fxoKewlStart = DahdiSignalling(rawValue: DahdiSigFXOKS)
    public static let clear = DahdiSignalling(rawValue: DahdiSigClear)
    public static let hdlcRaw = DahdiSignalling(rawValue: DahdiSigHDLCRaw)
    public static let hdlcFCS = DahdiSignalling(rawValue: DahdiSigHDLCFCS)
    public static let hardHDLC = DahdiSignalling(rawValue: DahdiSigHardHDLC)

    /// Every analog signalling towards an exchange, and towards a telephone.
    static let exchangeFacing: DahdiSignalling = [.fxsLoopStart, .fxsGroundStart, .fxsKewlStart]
    static let telephoneFacing: DahdiSignalling = [.fxoLoopStart, .fxoGroundStart, .fxoKewlStart]

    /// Analog signalling towards an exchange (loop, ground or kewl start).
    public var facesExchange: Bool { contains(.fxs) && Self.exchangeFacing.isSuperset(of: self) }
    /// Analog signalling towards a telephone.
    public var facesTelephone: Bool { contains(.fxo) && Self.telephoneFacing.isSuperset(of: self) }
}

/// What a call in the tick came to: a count (bytes, an event, 0 for a done ioctl) or the
/// device's refusal. Not generic (no `Result`, no `Optional`), so that nothing has to be
/// instantiated at run time the first time the tick sees an answer.
enum DahdiAnswer {
    case done(Int)
    case refused(Errno)
}

/// One open DAHDI channel: the file descriptor with the ioctls Linecard uses, typed. Set-up
/// calls throw `DahdiError`; the tick's calls (events, hook, read, write) answer with a
/// `DahdiAnswer` and allocate nothing.
struct DahdiChannelDescriptor {
    let fd: FileDescriptor
    /// "DAHDI channel N", for errors.
    let device: String

    /// Opens `path` (the channel device) without blocking; `specify` then chooses the channel.
    static func open(_ path: String, channel: Int) throws(DahdiError) -> DahdiChannelDescriptor {
        do {
            let fd = try FileDescriptor.open(FilePath(path), .readWrite, options: .nonBlocking)
            return DahdiChannelDescriptor(fd: fd, device: "DAHDI channel \(channel)")
        } catch {
            throw DahdiError(device: path, operation: "opening it", errno: error as? Errno ?? .ioError)
        }
    }

    /// Ends the use of the channel; errors on close are of no use to anyone.
    func close() { try? fd.close() }

    // MARK: Set-up

    func specify(_ channel: Int) throws(DahdiError) {
        try set(DahdiSpecify, CInt(channel), "choosing it")
    }

    func setBlockSize(_ samples: Int) throws(DahdiError) {
        try set(DahdiSetBlockSize, CInt(samples), "a block of \(samples) samples")
    }

    /// A clear (bchan) channel passes bytes untouched until it is put in audio mode.
    func enterAudioMode() throws(DahdiError) { try set(DahdiAudioMode, 1, "audio mode") }

    func enterLinearMode() throws(DahdiError) { try set(DahdiSetLinear, 1, "linear (16-bit) mode") }

    func setBuffers(count: Int, samples: Int) throws(DahdiError) {
        var buffers = DahdiBufferInfo(txbufpolicy: CInt(DahdiPolicyHalfFull), rxbufpolicy: CInt(DahdiPolicyImmediate),
                                      numbufs: CInt(count), bufsize: CInt(samples), readbufs: 0, writebufs: 0)
        guard dahdi_ioctl_bufinfo(fd.rawValue, DahdiSetBufInfo, &buffers) == 0 else {
            throw DahdiError(device: device, operation: "setting its buffers", errno: .ofLastCall)
        }
    }

    /// Asks for read-overrun and write-underrun events; a driver without them is no error.
    func reportBufferEvents() { _ = control(DahdiBufferEvents, 1) }

    func flushAll() { _ = control(DahdiFlush, CInt(DahdiFlushAll)) }

    func parameters() -> DahdiParams? {
        var params = DahdiParams()
        return dahdi_ioctl_params(fd.rawValue, DahdiGetParams, &params) == 0 ? params : nil
    }

    private func set(_ request: UInt, _ value: CInt, _ what: String) throws(DahdiError) {
        if case .refused(let errno) = control(request, value) { throw DahdiError(device: device, operation: what, errno: errno) }
    }

    // MARK: Tick side: no allocation, no throwing

    /// An integer ioctl.
    @inline(__always)
    func control(_ request: UInt, _ value: CInt) -> DahdiAnswer {
        var value = value
        return dahdi_ioctl_int(fd.rawValue, request, &value) == 0 ? .done(0) : .refused(.ofLastCall)
    }

    /// The next queued DAHDI event (0: none), or why none could be read.
    @inline(__always)
    func nextEvent() -> DahdiAnswer {
        var event: CInt = 0
        return dahdi_ioctl_int(fd.rawValue, DahdiGetEvent, &event) == 0 ? .done(Int(event)) : .refused(.ofLastCall)
    }

    @inline(__always)
    func read(into buffer: UnsafeMutableRawPointer, bytes: Int) -> DahdiAnswer {
        let got = Glibc.read(fd.rawValue, buffer, bytes)
        return got >= 0 ? .done(got) : .refused(.ofLastCall)
    }

    @inline(__always)
    func write(from buffer: UnsafeRawPointer, bytes: Int) -> DahdiAnswer {
        let put = Glibc.write(fd.rawValue, buffer, bytes)
        return put >= 0 ? .done(put) : .refused(.ofLastCall)
    }
}
