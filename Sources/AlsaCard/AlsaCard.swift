import CAlsa
import Foundation
import LinecardCore
import Synchronization

/// ALSA devices (USB telephony codecs, sound cards) as Linecard ports: one port per device
/// string, each a clear audio channel with no line signalling (always connected; hook
/// commands do nothing). Audio is S16_LE mono at 8000 Hz with a period of one engine block;
/// a device that cannot run at 8000 Hz is refused with a hint to use its `plughw:`/`default`
/// name, whose plug layer resamples. The devices' own clock drives line time: the tick
/// blocks in `snd_pcm_readi`.
///
/// Overruns and underruns are recovered (`snd_pcm_prepare`) and counted, and reported as
/// `readOverrun`/`writeUnderrun` line events; a device that goes away (ENODEV) is reported
/// once as `removed` and its port then carries silence.
public final class AlsaCard: CardBackend, @unchecked Sendable {
    public let name: String
    public let ports: [PortDescription]
    public var clock: CardClock { .card }

    private let devices: [String]
    /// An ALSA configuration of our own (PCM definitions), or nil for the system's.
    private let configuration: OpaquePointer?
    private let capture: UnsafeMutablePointer<OpaquePointer?>
    private let playback: UnsafeMutablePointer<OpaquePointer?>
    private let removed: UnsafeMutablePointer<Bool>
    private let overruns: UnsafeMutablePointer<Atomic<Int>>
    private let underruns: UnsafeMutablePointer<Atomic<Int>>
    // Line events, pushed and popped on the tick thread only.
    private let events = SPSCQueue<LineEvent>(capacity: 64)

    /// - Parameters:
    ///   - devices: ALSA PCM names, one port each (`plughw:CARD=Device,DEV=0`, `default`, or
    ///     a name `configuration` defines).
    ///   - configuration: ALSA configuration text to use instead of the system's (tests
    ///     define `file` and `null` PCMs with it).
    public init(devices: [String], name: String = "alsa", configuration text: String? = nil) throws {
        guard !devices.isEmpty else { throw CardError.device("an ALSA card needs at least one device") }
        lc_alsa_quiet()
        self.name = name
        self.devices = devices
        ports = devices.enumerated().map { PortDescription(index: $0, name: $1, kind: .clear, signalling: "none (clear audio)") }
        if let text {
            var top: OpaquePointer?
            var input: OpaquePointer?
            guard snd_config_top(&top) == 0, snd_input_buffer_open(&input, text, -1) == 0 else {
                throw CardError.device("cannot read the ALSA configuration: out of memory")
            }
            let loaded = snd_config_load(top, input)
            snd_input_close(input)
            guard loaded == 0 else {
                snd_config_delete(top)
                throw CardError.device("the ALSA configuration is not valid: \(String(cString: snd_strerror(loaded)))")
            }
            configuration = top
        } else {
            configuration = nil
        }
        let n = devices.count
        capture = .allocate(capacity: n)
        capture.initialize(repeating: nil, count: n)
        playback = .allocate(capacity: n)
        playback.initialize(repeating: nil, count: n)
        removed = .allocate(capacity: n)
        removed.initialize(repeating: false, count: n)
        overruns = .allocate(capacity: n)
        underruns = .allocate(capacity: n)
        for i in 0..<n {
            (overruns + i).initialize(to: Atomic(0))
            (underruns + i).initialize(to: Atomic(0))
        }
    }

    deinit {
        shutdown()
        capture.deallocate()
        playback.deallocate()
        removed.deallocate()
        overruns.deinitialize(count: devices.count)
        overruns.deallocate()
        underruns.deinitialize(count: devices.count)
        underruns.deallocate()
        if let configuration { snd_config_delete(configuration) }
    }

    /// Overruns and underruns recovered on `port` so far.
    public func xruns(port: Int) -> (overruns: Int, underruns: Int) {
        guard port >= 0, port < devices.count else { return (0, 0) }
        return (overruns[port].load(ordering: .relaxed), underruns[port].load(ordering: .relaxed))
    }

    public func open(port: Int, blockSize: Int) throws {
        guard port >= 0, port < devices.count else { throw CardError.unknownPort(port, portCount: devices.count) }
        close(port: port)
        let device = devices[port]
        let c = try openPCM(device, SND_PCM_STREAM_CAPTURE, blockSize: blockSize)
        let p: OpaquePointer
        do { p = try openPCM(device, SND_PCM_STREAM_PLAYBACK, blockSize: blockSize) } catch {
            snd_pcm_close(c)
            throw error
        }
        capture[port] = c
        playback[port] = p
        removed[port] = false
        // Two periods of silence queued, so that playback starts and a late write does not underrun.
        var silence = [Int16](repeating: 0, count: blockSize * 2)
        _ = silence.withUnsafeMutableBufferPointer { snd_pcm_writei(p, $0.baseAddress, snd_pcm_uframes_t(blockSize * 2)) }
        snd_pcm_start(c)
    }

    private func openPCM(_ device: String, _ stream: snd_pcm_stream_t, blockSize: Int) throws -> OpaquePointer {
        let direction = stream == SND_PCM_STREAM_CAPTURE ? "capture" : "playback"
        func check(_ result: Int32, _ what: String, _ pcm: OpaquePointer?) throws {
            guard result >= 0 else {
                if let pcm { snd_pcm_close(pcm) }
                throw CardError.device("ALSA device \"\(device)\" (\(direction)): \(what): \(String(cString: snd_strerror(result)))")
            }
        }
        var pcm: OpaquePointer?
        let opened = configuration.map { snd_pcm_open_lconf(&pcm, device, stream, 0, $0) } ?? snd_pcm_open(&pcm, device, stream, 0)
        try check(opened, "cannot open it", nil)
        guard let pcm else { throw CardError.device("ALSA device \"\(device)\": no PCM") }
        var hw: OpaquePointer?
        try check(snd_pcm_hw_params_malloc(&hw), "out of memory", pcm)
        defer { snd_pcm_hw_params_free(hw) }
        try check(snd_pcm_hw_params_any(pcm, hw), "no configurations", pcm)
        try check(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "interleaved access", pcm)
        try check(snd_pcm_hw_params_set_format(pcm, hw, SND_PCM_FORMAT_S16_LE), "16-bit little-endian samples", pcm)
        try check(snd_pcm_hw_params_set_channels(pcm, hw, 1), "one channel", pcm)
        let rate = snd_pcm_hw_params_set_rate(pcm, hw, 8000, 0)
        guard rate >= 0 else {
            snd_pcm_close(pcm)
            throw CardError.device("ALSA device \"\(device)\" (\(direction)) does not run at 8000 Hz: use its plughw: or default name, whose plug layer resamples")
        }
        var period = snd_pcm_uframes_t(blockSize)
        var dir: Int32 = 0
        try check(snd_pcm_hw_params_set_period_size_near(pcm, hw, &period, &dir), "a period of \(blockSize) samples", pcm)
        var buffer = snd_pcm_uframes_t(blockSize * 4)
        try check(snd_pcm_hw_params_set_buffer_size_near(pcm, hw, &buffer), "a buffer of 4 periods", pcm)
        try check(snd_pcm_hw_params(pcm, hw), "setting the hardware parameters", pcm)
        try check(snd_pcm_prepare(pcm), "preparing", pcm)
        return pcm
    }

    public func close(port: Int) {
        guard port >= 0, port < devices.count else { return }
        if let c = capture[port] { snd_pcm_close(c) }
        if let p = playback[port] { snd_pcm_close(p) }
        capture[port] = nil
        playback[port] = nil
    }

    public func shutdown() {
        for port in 0..<devices.count { close(port: port) }
    }

    @inline(__always)
    private func push(_ port: Int, _ kind: LineEvent.Kind) {
        events.push(LineEvent(port: Int32(port), kind: kind))
    }

    public func readBlocks(into samples: UnsafeMutablePointer<Int16>, blockSize: Int) {
        var port = 0
        while port < devices.count {
            let block = samples + port * blockSize
            if let c = capture[port], !removed[port] {
                var got = 0
                while got < blockSize {
                    let n = snd_pcm_readi(c, block + got, snd_pcm_uframes_t(blockSize - got))
                    if n > 0 { got += Int(n); continue }
                    if n == -Int(EPIPE) {
                        overruns[port].add(1, ordering: .relaxed)
                        push(port, .readOverrun)
                        snd_pcm_prepare(c)
                        snd_pcm_start(c)
                    } else if n == -Int(ENODEV) {
                        removed[port] = true
                        push(port, .removed)
                    }
                    break
                }
                if got < blockSize { (block + got).update(repeating: 0, count: blockSize - got) }
            } else {
                block.update(repeating: 0, count: blockSize)
            }
            port += 1
        }
    }

    public func writeBlocks(from samples: UnsafePointer<Int16>, blockSize: Int) {
        var port = 0
        while port < devices.count {
            if let p = playback[port], !removed[port] {
                var n = snd_pcm_writei(p, samples + port * blockSize, snd_pcm_uframes_t(blockSize))
                if n == -Int(EPIPE) {
                    underruns[port].add(1, ordering: .relaxed)
                    push(port, .writeUnderrun)
                    snd_pcm_prepare(p)
                    n = snd_pcm_writei(p, samples + port * blockSize, snd_pcm_uframes_t(blockSize))
                }
                if n == -Int(ENODEV) {
                    removed[port] = true
                    push(port, .removed)
                }
            }
            port += 1
        }
    }

    /// A clear channel has no line: hook commands are accepted and do nothing.
    public func setHook(port: Int, _ command: HookCommand) -> Int32 { 0 }

    public func nextLineEvent() -> LineEvent? { events.pop() }
}
