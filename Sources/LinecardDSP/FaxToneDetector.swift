import CSpanDSP

/// The tones that say the far end is a fax machine.
public enum FaxTone: UInt8, Sendable, Equatable, BitwiseCopyable {
    /// CNG: 1100 Hz, 0.5 s on and 3 s off, sent by a calling fax machine.
    case calling = 1
    /// CED: 2100 Hz for 2.6 to 4 s (with or without phase reversals, ANS or ANSam), sent by
    /// an answering fax machine or modem.
    case answer = 2
    /// V.21 HDLC flags: a fax machine that skipped CED, or one already negotiating.
    case preamble = 3
}

/// Listens for CNG, CED and the V.21 fax preamble with spandsp's `modem_connect_tones_rx`
/// (one detector for CNG, one for CED or the preamble).
///
/// Safe inside the tick: the detectors are made once; the C callbacks store into a small
/// block of plain memory that `process` reads after each call.
public final class FaxToneDetector {
    /// Written by the C callbacks: the last tone reported, 0 for none.
    @usableFromInline let heard: UnsafeMutablePointer<UInt8>
    private let calling: OpaquePointer
    private let answer: OpaquePointer

    public init() {
        heard = .allocate(capacity: 1)
        heard.initialize(to: 0)
        guard let c = modem_connect_tones_rx_init(nil, Int32(MODEM_CONNECT_TONES_FAX_CNG), faxToneCallback, UnsafeMutableRawPointer(heard)),
              let a = modem_connect_tones_rx_init(nil, Int32(MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE), faxToneCallback, UnsafeMutableRawPointer(heard))
        else { fatalError("spandsp modem_connect_tones_rx_init failed: out of memory") }
        calling = c
        answer = a
    }

    deinit {
        modem_connect_tones_rx_free(calling)
        modem_connect_tones_rx_free(answer)
        heard.deallocate()
    }

    public func reset() {
        _ = modem_connect_tones_rx_init(calling, Int32(MODEM_CONNECT_TONES_FAX_CNG), faxToneCallback, UnsafeMutableRawPointer(heard))
        _ = modem_connect_tones_rx_init(answer, Int32(MODEM_CONNECT_TONES_FAX_CED_OR_PREAMBLE), faxToneCallback, UnsafeMutableRawPointer(heard))
        heard.pointee = 0
    }

    /// Processes one block and calls `report` when a fax tone has been recognised.
    @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, report: (FaxTone) -> Void) {
        _ = modem_connect_tones_rx(calling, samples, Int32(count))
        _ = modem_connect_tones_rx(answer, samples, Int32(count))
        let code = heard.pointee
        if code == 0 { return }
        heard.pointee = 0
        if let tone = FaxTone(rawValue: code) { report(tone) }
    }

    /// Convenience for whole signals (outside the tick): the tones recognised, in order.
    public func tones(in samples: [Int16], blockSize: Int = 160) -> [FaxTone] {
        var result: [FaxTone] = []
        samples.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = min(blockSize, buffer.count - offset)
                process(buffer.baseAddress! + offset, count: n) { result.append($0) }
                offset += n
            }
        }
        return result
    }
}

private func faxToneCallback(_ userData: UnsafeMutableRawPointer?, _ code: Int32, _ level: Int32, _ delay: Int32) {
    let tone: FaxTone?
    switch code {
    case Int32(MODEM_CONNECT_TONES_FAX_CNG): tone = .calling
    case Int32(MODEM_CONNECT_TONES_ANS), Int32(MODEM_CONNECT_TONES_ANS_PR),
         Int32(MODEM_CONNECT_TONES_ANSAM), Int32(MODEM_CONNECT_TONES_ANSAM_PR):
        tone = .answer
    case Int32(MODEM_CONNECT_TONES_FAX_PREAMBLE): tone = .preamble
    default: tone = nil   // MODEM_CONNECT_TONES_NONE: a tone ended
    }
    if let tone { userData!.assumingMemoryBound(to: UInt8.self).pointee = tone.rawValue }
}
