import CDahdi
import Foundation
import LinecardCore
import Synchronization
import SystemPackage

/// DAHDI channels (analog FXS/FXO cards, T1/E1/BRI bearer channels, dynamic spans) as
/// Linecard ports. Each port is a channel opened through `/dev/dahdi/channel` and
/// `DAHDI_SPECIFY`, in linear mode with a DAHDI block of one engine block.
///
/// The card's own clock drives line time: `readBlocks` waits in `poll` (POLLIN for audio,
/// POLLPRI for signalling) until every open channel has a block. Signalling arrives as DAHDI
/// events, read with `DAHDI_GETEVENT` whenever poll says one is queued or a read or write
/// fails with `ELAST`; they become line events for the call layer. A channel whose device
/// goes away reports `removed` and carries silence; a span in alarm reports `alarm` and
/// `alarmCleared` when it recovers.
public final class DahdiCard: IsdnCard, @unchecked Sendable {
    public let name: String
    public let ports: [PortDescription]
    /// The ISDN spans among the chosen channels: a span with a D-channel (`dchan=` or
    /// `hardhdlc=`) and B-channels (`bchan=`) chosen here.
    public let isdnSpans: [IsdnSpanDescription]
    public var clock: CardClock { .card }
    /// The DAHDI channel number behind each port.
    public let channelNumbers: [Int]

    private let channelPath: String
    private let count: Int
    // Per port, touched by open/close outside the tick and by the tick while the engine runs
    // (the engine opens and closes ports only while it is stopped or through its own tick).
    private let descriptors: UnsafeMutablePointer<DahdiChannelDescriptor?>
    private let gone: UnsafeMutablePointer<Bool>
    private let gotBlock: UnsafeMutablePointer<Bool>
    private let offHook: UnsafeMutablePointer<Bool>
    private let pollFDs: UnsafeMutablePointer<pollfd>
    private let pollPorts: UnsafeMutablePointer<Int>
    private let overruns: UnsafeMutablePointer<Atomic<Int>>
    private let underruns: UnsafeMutablePointer<Atomic<Int>>
    private let events = SPSCQueue<LineEvent>(capacity: 256)

    /// Opens nothing yet: reads the spans and makes one port per audio channel (or per
    /// channel in `channels`, in that order).
    ///
    /// - Parameters:
    ///   - channels: DAHDI channel numbers to use, or nil for every configured audio channel.
    public init(channels: [Int]? = nil, name: String = "dahdi",
                controlPath: String = LC_DAHDI_CTL_PATH, channelPath: String = LC_DAHDI_CHANNEL_PATH) throws {
        let spans = try DahdiScanner.scan(controlPath: controlPath)
        let all = spans.flatMap(\.channels)
        var chosen: [DahdiChannel] = []
        if let channels {
            for number in channels {
                guard let channel = all.first(where: { $0.number == number }) else {
                    throw CardError.device("there is no DAHDI channel \(number): \(Self.summary(all))")
                }
                guard channel.kind != nil else {
                    throw CardError.device("DAHDI channel \(number) is \(channel.signalling), not an audio channel")
                }
                chosen.append(channel)
            }
        } else {
            chosen = all.filter { $0.kind != nil }
        }
        guard !chosen.isEmpty else {
            throw CardError.device(
                spans.isEmpty
                    ? "DAHDI is loaded but has no spans: is the card's driver loaded, and has dahdi_cfg run?"
                    : "DAHDI has no configured audio channels: configure them in /etc/dahdi/system.conf and run dahdi_cfg")
        }
        self.name = name
        self.channelPath = channelPath
        channelNumbers = chosen.map(\.number)
        // A span with a D-channel is ISDN: its clear channels are B-channels, carried by
        // Q.931 over the D-channel (LinecardISDN), not standing connections.
        var isdn: [IsdnSpanDescription] = []
        var bearerChannels: Set<Int> = []
        for span in spans {
            guard let dChannel = span.channels.first(where: { $0.signalling == "hdlcfcs" || $0.signalling == "hardhdlc" }) else { continue }
            var bearers: [Int: Int] = [:]
            for (i, ch) in chosen.enumerated() where ch.span == span.number && ch.kind == .clear {
                bearers[ch.position] = i
                bearerChannels.insert(ch.number)
            }
            guard !bearers.isEmpty else { continue }
            isdn.append(IsdnSpanDescription(name: "dahdi span \(span.number)", variant: Self.variant(of: span), bearers: bearers,
                                            dChannel: .dahdi(channel: dChannel.number)))
        }
        isdnSpans = isdn
        ports = chosen.enumerated().map { i, ch in
            PortDescription(index: i, name: "\(ch.number) (span \(ch.span): \(ch.name))",
                            kind: bearerChannels.contains(ch.number) ? .isdnBearer : ch.kind!,
                            signalling: ch.signalling, alarms: ch.alarms)
        }
        count = chosen.count
        descriptors = .allocate(capacity: count)
        descriptors.initialize(repeating: nil, count: count)
        gone = .allocate(capacity: count)
        gone.initialize(repeating: false, count: count)
        gotBlock = .allocate(capacity: count)
        gotBlock.initialize(repeating: false, count: count)
        offHook = .allocate(capacity: count)
        offHook.initialize(repeating: false, count: count)
        pollFDs = .allocate(capacity: count)
        pollFDs.initialize(repeating: pollfd(), count: count)
        pollPorts = .allocate(capacity: count)
        pollPorts.initialize(repeating: 0, count: count)
        overruns = .allocate(capacity: count)
        underruns = .allocate(capacity: count)
        for i in 0..<count {
            (overruns + i).initialize(to: Atomic(0))
            (underruns + i).initialize(to: Atomic(0))
        }
    }

    deinit {
        shutdown()
        descriptors.deinitialize(count: count)
        descriptors.deallocate()
        gone.deallocate()
        gotBlock.deallocate()
        offHook.deallocate()
        pollFDs.deallocate()
        pollPorts.deallocate()
        overruns.deinitialize(count: count)
        overruns.deallocate()
        underruns.deinitialize(count: count)
        underruns.deallocate()
    }

    /// Buffer overruns (receive) and underruns (transmit) DAHDI reported on `port` so far.
    public func bufferEvents(port: Int) -> (overruns: Int, underruns: Int) {
        guard port >= 0, port < count else { return (0, 0) }
        return (overruns[port].load(ordering: .relaxed), underruns[port].load(ordering: .relaxed))
    }

    public func open(port: Int, blockSize: Int) throws {
        guard port >= 0, port < count else { throw CardError.unknownPort(port, portCount: count) }
        guard blockSize >= Int(DahdiMinBlockSize) else {
            throw CardError.device("DAHDI's smallest block is \(DahdiMinBlockSize) samples (2 ms); run the engine with a block of 16 to 160 samples")
        }
        close(port: port)
        let channel = try DahdiChannelDescriptor.open(channelPath, channel: channelNumbers[port])
        do {
            try channel.specify(channelNumbers[port])
            try channel.setBlockSize(blockSize)
            // A clear (bchan) channel passes bytes untouched until it is put in audio mode,
            // as Asterisk does for a voice call on a B channel; linear mode needs audio mode.
            if ports[port].kind == .clear || ports[port].kind == .isdnBearer { try channel.enterAudioMode() }
            try channel.enterLinearMode()
            // Four blocks each way: enough to ride out a late tick, little enough to keep the
            // delay low. Transmit starts when half are full, so a late write does not underrun.
            // DAHDI counts a buffer in samples (it stores G.711 bytes and converts on read and
            // write), so the size is the block, not the block's bytes in linear mode.
            try channel.setBuffers(count: 4, samples: blockSize)
        } catch {
            channel.close()
            throw error
        }
        channel.reportBufferEvents()
        channel.flushAll()
        let params = channel.parameters()
        offHook[port] = (params?.rxisoffhook ?? 0) != 0 && ports[port].kind == .fxs
        descriptors[port] = channel
        gone[port] = false
        if (params?.chan_alarms ?? 0) != 0 { push(port, .alarm) }
        // Two blocks of silence queued, so transmit is running before the first tick writes.
        let silence = [Int16](repeating: 0, count: blockSize * 2)
        _ = silence.withUnsafeBytes { channel.write(from: $0.baseAddress!, bytes: $0.count) }
    }

    public func close(port: Int) {
        guard port >= 0, port < count, let channel = descriptors[port] else { return }
        if ports[port].kind == .fxo || ports[port].kind == .fxs { _ = channel.control(DahdiHook, CInt(DahdiHookOnHook)) }
        channel.close()
        descriptors[port] = nil
    }

    public func shutdown() {
        for port in 0..<count { close(port: port) }
    }

    // MARK: Tick

    @inline(__always)
    private func push(_ port: Int, _ kind: LineEvent.Kind) {
        events.push(LineEvent(port: Int32(port), kind: kind))
    }

    private func markGone(_ port: Int) {
        guard !gone[port] else { return }
        gone[port] = true
        push(port, .removed)
    }

    /// Reads every queued DAHDI event of `port` and turns it into line events.
    private func drainEvents(_ port: Int) {
        guard let channel = descriptors[port] else { return }
        while true {
            switch channel.nextEvent() {
            case .done(let event):
                if event == 0 { return }
                translate(port, CInt(truncatingIfNeeded: event))
            case .refused(let errno):
                if errno == .operationNotSupportedByDevice { markGone(port) }
                return
            }
        }
    }

    private func translate(_ port: Int, _ event: CInt) {
        let kind = ports[port].kind
        switch event {
        case DahdiEventAlarm: push(port, .alarm)
        case DahdiEventNoAlarm: push(port, .alarmCleared)
        case DahdiEventRemoved: markGone(port)
        case DahdiEventReadOverrun:
            overruns[port].add(1, ordering: .relaxed)
            push(port, .readOverrun)
        case DahdiEventWriteUnderrun:
            underruns[port].add(1, ordering: .relaxed)
            push(port, .writeUnderrun)
        case DahdiEventPolarity where kind == .fxo: push(port, .polarityReversal)
        // A port facing the exchange: ringing and the loop.
        case DahdiEventRingBegin where kind == .fxo: push(port, .ringBegin)
        case DahdiEventRingOffHook where kind == .fxo:
            // With the line on hook, DAHDI says this when a ring has ended.
            if !offHook[port] { push(port, .ringEnd) }
        case DahdiEventOnHook where kind == .fxo:
            // Kewlstart: the exchange dropped loop current (the far end cleared).
            if offHook[port] { push(port, .loopCurrentDrop) }
        // A port facing a telephone: its hook.
        case DahdiEventRingOffHook where kind == .fxs:
            offHook[port] = true
            push(port, .offHook)
        case DahdiEventOnHook where kind == .fxs:
            offHook[port] = false
            push(port, .onHook)
        case DahdiEventWinkFlash where kind == .fxs: push(port, .flash)
        default: break
        }
    }

    public func readBlocks(into samples: UnsafeMutablePointer<Int16>, blockSize: Int) {
        let bytes = blockSize * 2
        var waiting = 0
        for port in 0..<count {
            let block = samples + port * blockSize
            gotBlock[port] = descriptors[port] == nil || gone[port]
            if gotBlock[port] { block.update(repeating: 0, count: blockSize) } else { waiting += 1 }
        }
        // One period of the card plus generous slack: a span that stops delivering (an alarm
        // on a looped span, a stalled driver) must not stop the other ports' line time.
        var rounds = 0
        while waiting > 0 {
            var n = 0
            for port in 0..<count where !gotBlock[port] {
                pollFDs[n] = pollfd(fd: descriptors[port]!.fd.rawValue, events: Int16(POLLIN | POLLPRI), revents: 0)
                pollPorts[n] = port
                n += 1
            }
            let ready = poll(pollFDs, nfds_t(n), 100)
            if ready <= 0 {
                rounds += 1
                if ready < 0 && Errno.ofLastCall == .interrupted { continue }
                if rounds < 5 { continue }
                // Half a second without audio: give silence for the silent ones and go on.
                for port in 0..<count where !gotBlock[port] {
                    (samples + port * blockSize).update(repeating: 0, count: blockSize)
                    gotBlock[port] = true
                }
                return
            }
            for i in 0..<n where pollFDs[i].revents != 0 {
                let port = pollPorts[i]
                let channel = descriptors[port]!
                let revents = Int32(pollFDs[i].revents)
                if revents & (POLLERR | POLLNVAL | POLLHUP) != 0 && revents & (POLLIN | POLLPRI) == 0 {
                    markGone(port)
                }
                if revents & POLLPRI != 0 { drainEvents(port) }
                if gone[port] {
                    (samples + port * blockSize).update(repeating: 0, count: blockSize)
                    gotBlock[port] = true
                    waiting -= 1
                    continue
                }
                guard revents & POLLIN != 0 else { continue }
                switch channel.read(into: samples + port * blockSize, bytes: bytes) {
                case .done(let got) where got == bytes:
                    gotBlock[port] = true
                    waiting -= 1
                case .refused(let errno) where errno == .dahdiEventPending: drainEvents(port)
                case .refused(let errno) where errno == .resourceTemporarilyUnavailable || errno == .interrupted: break
                case .refused:
                    markGone(port)
                    (samples + port * blockSize).update(repeating: 0, count: blockSize)
                    gotBlock[port] = true
                    waiting -= 1
                case .done(let got):
                    // A short block (a driver with another block size): pad with silence.
                    let have = got / 2
                    (samples + port * blockSize + have).update(repeating: 0, count: blockSize - have)
                    gotBlock[port] = true
                    waiting -= 1
                }
            }
        }
    }

    public func writeBlocks(from samples: UnsafePointer<Int16>, blockSize: Int) {
        for port in 0..<count where !gone[port] {
            guard let channel = descriptors[port] else { continue }
            var tries = 0
            while tries < 2 {
                tries += 1
                switch channel.write(from: samples + port * blockSize, bytes: blockSize * 2) {
                case .done: break
                case .refused(let errno) where errno == .dahdiEventPending:
                    drainEvents(port)
                    continue
                case .refused(let errno):
                    if errno == .operationNotSupportedByDevice { markGone(port) }
                    // EAGAIN: DAHDI's buffers are full (the far side reads slower than we
                    // write); the block is dropped rather than blocking the tick.
                }
                break
            }
        }
    }

    public func setHook(port: Int, _ command: HookCommand) -> Int32 {
        guard port >= 0, port < count, let channel = descriptors[port] else { return Errno.badFileDescriptor.rawValue }
        guard !gone[port] else { return Errno.operationNotSupportedByDevice.rawValue }
        let kind = ports[port].kind
        guard kind == .fxo || kind == .fxs else { return 0 }
        let answer: DahdiAnswer
        switch command {
        case .onHook: answer = channel.control(DahdiHook, CInt(DahdiHookOnHook))
        case .offHook: answer = channel.control(DahdiHook, CInt(DahdiHookOffHook))
        case .flash: answer = channel.control(DahdiHook, CInt(DahdiHookFlash))
        case .ringStart: answer = channel.control(DahdiHook, CInt(DahdiHookRing))
        case .ringStop: answer = channel.control(DahdiHook, CInt(DahdiHookRingOff))
        case .polarityNormal, .polarityReversed:
            switch channel.control(DahdiSetPolarity, command == .polarityReversed ? 1 : 0) {
            case .done: return 0
            // Polarity is the channel driver's to do, and many (dynamic spans, most FXO
            // modules) cannot: the line simply carries no polarity signal.
            case .refused(let errno) where errno == .inappropriateIOCTLForDevice || errno == .invalidArgument: return 0
            case .refused(let errno): return errno.rawValue
            }
        }
        // A ring or a flash is under way (EINPROGRESS): accepted.
        if case .refused(let errno) = answer, errno != .nowInProgress { return errno.rawValue }
        if kind == .fxo {
            if command == .offHook { offHook[port] = true }
            if command == .onHook { offHook[port] = false }
        }
        return 0
    }

    public func nextLineEvent() -> LineEvent? { events.pop() }

    // MARK: Errors

    /// E1, T1 or BRI, by the driver's span type, else by its size (3 channels: BRI; 24: T1).
    static func variant(of span: DahdiSpan) -> IsdnSpanDescription.Variant {
        let type = span.type.uppercased()
        if type.contains("BRI") || span.totalChannels == 3 { return .bri }
        if type.contains("T1") || type.contains("J1") || span.totalChannels == 24 { return .t1 }
        return .e1
    }

    static func summary(_ channels: [DahdiChannel]) -> String {
        let audio = channels.filter { $0.kind != nil }.map(\.number)
        return audio.isEmpty ? "no audio channels are configured" : "the audio channels are \(audio.map(String.init).joined(separator: ", "))"
    }
}
