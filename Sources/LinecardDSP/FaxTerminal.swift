import CFaxFrontEnd
import CSpanDSP
import Foundation

/// A fax machine on audio: spandsp's T.30 terminal with its V.21, V.27ter, V.29 and V.17
/// modems (`fax_state_t`). It answers with CED, or calls with CNG, and then sends or receives
/// TIFF-F pages as T.30 negotiates.
///
/// spandsp opens and writes the TIFF files itself as pages start and end, so a terminal is
/// not for the engine's tick; the simulated exchange's fax machine runs one in its far-end
/// model.
public final class FaxTerminal {
    private let state: OpaquePointer
    /// The T.30 completion code (T30_ERR_*) once the session has ended, -1 before. Written by
    /// spandsp's phase E callback.
    private let completionCode: UnsafeMutablePointer<Int32>
    public private(set) var isCalling: Bool
    /// Called (on the thread running the terminal) when T.30 has negotiated the session
    /// (phase B) and after each page (phase D).
    public var onNegotiated: (() -> Void)?
    /// Phase D, with whether the page just handled is the last: a receiver knows it from the
    /// sender's post-page message (EOP), a sender from its own page count.
    public var onPage: ((_ last: Bool) -> Void)?
    /// Called when the session ends (phase E), with the completion code.
    public var onFinished: ((Int32) -> Void)?

    /// What spandsp reports of the session so far.
    public struct Statistics: Sendable, Equatable {
        public var bitRate: Int
        public var errorCorrection: Bool
        public var pagesSent: Int
        public var pagesReceived: Int
        public var pagesInFile: Int
        public var xResolution: Int
        public var yResolution: Int
        public var width: Int
        public var length: Int
        public var compression: String
        public var badRows: Int
        public var remoteIdentity: String
    }

    public init(calling: Bool) {
        completionCode = .allocate(capacity: 1)
        completionCode.initialize(to: -1)
        isCalling = calling
        guard let s = fax_init(nil, calling ? 1 : 0) else { fatalError("spandsp fax_init failed: out of memory") }
        state = s
        configure()
    }

    deinit {
        fax_free(state)
        completionCode.deallocate()
    }

    private func configure() {
        fax_set_transmit_on_idle(state, 1)
        let t30 = fax_get_t30_state(state)
        let me = Unmanaged.passUnretained(self).toOpaque()
        t30_set_phase_e_handler(t30, faxPhaseEHandler, me)
        t30_set_phase_b_handler(t30, faxPhaseBHandler, me)
        t30_set_phase_d_handler(t30, faxPhaseDHandler, me)
        setModems(v27: true, v29: true, v17: true)
        setErrorCorrection(true)
        setHighResolution(true)
        t30_set_supported_compressions(t30, Int32(T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION))
    }

    fileprivate func finished(_ code: Int32) {
        completionCode.pointee = code
        onFinished?(code)
    }

    fileprivate func negotiated() { onNegotiated?() }
    fileprivate func pageDone(_ fcf: Int32) {
        // A receiver's phase D comes with the sender's post-page command; a sender's with the
        // receiver's answer to it.
        let commands = [T30_MPS, T30_EOP, T30_EOM, T30_PRI_MPS, T30_PRI_EOP, T30_PRI_EOM].map { Int32($0) }
        if commands.contains(fcf) {
            onPage?(fcf == Int32(T30_EOP) || fcf == Int32(T30_PRI_EOP))
        } else {
            let s = statistics
            onPage?(s.pagesInFile > 0 && s.pagesSent >= s.pagesInFile)
        }
    }

    /// Which modems it offers or accepts.
    public func setModems(v27: Bool, v29: Bool, v17: Bool) {
        let mask = (v27 ? Int32(T30_SUPPORT_V27TER) : 0) | (v29 ? Int32(T30_SUPPORT_V29) : 0) | (v17 ? Int32(T30_SUPPORT_V17) : 0)
        t30_set_supported_modems(fax_get_t30_state(state), mask)
    }

    /// Error correction mode (T.30 annex A).
    public func setErrorCorrection(_ on: Bool) { t30_set_ecm_capability(fax_get_t30_state(state), on ? 1 : 0) }

    /// Fine and superfine resolutions besides standard.
    public func setHighResolution(_ on: Bool) {
        let mask = Int32(T30_SUPPORT_STANDARD_RESOLUTION) | (on ? Int32(T30_SUPPORT_FINE_RESOLUTION | T30_SUPPORT_SUPERFINE_RESOLUTION) : 0)
        t30_set_supported_resolutions(fax_get_t30_state(state), mask)
    }

    /// The text printed at the top of each page sent.
    public func setHeaderInfo(_ text: String) { _ = t30_set_tx_page_header_info(fax_get_t30_state(state), text) }

    /// Ends the session now (phase E follows with T30_ERR_CALLDROPPED's kin).
    public func terminate() { t30_terminate(fax_get_t30_state(state)) }

    public var statistics: Statistics {
        let t30 = fax_get_t30_state(state)
        var stats = t30_stats_t()
        t30_get_transfer_statistics(t30, &stats)
        let remote = t30_get_rx_ident(t30).map { String(cString: $0) } ?? ""
        let compression: String
        switch Int(stats.encoding) {
        case Int(T4_COMPRESSION_ITU_T4_1D.rawValue): compression = "T.4 1D"
        case Int(T4_COMPRESSION_ITU_T4_2D.rawValue): compression = "T.4 2D"
        case Int(T4_COMPRESSION_ITU_T6.rawValue): compression = "T.6"
        default: compression = "none"
        }
        return Statistics(bitRate: Int(stats.bit_rate), errorCorrection: stats.error_correcting_mode != 0,
                          pagesSent: Int(stats.pages_tx), pagesReceived: Int(stats.pages_rx), pagesInFile: Int(stats.pages_in_file),
                          xResolution: Int(stats.x_resolution), yResolution: Int(stats.y_resolution),
                          width: Int(stats.width), length: Int(stats.length), compression: compression,
                          badRows: Int(stats.bad_rows), remoteIdentity: remote.trimmingCharacters(in: .whitespaces))
    }

    /// Starts a new session: the last one's files and result are forgotten.
    public func restart(calling: Bool) {
        isCalling = calling
        fax_restart(state, calling ? 1 : 0)
        completionCode.pointee = -1
        configure()
    }

    /// Pages received are written to `path` (TIFF-F).
    public func setReceiveFile(_ path: String) {
        t30_set_rx_file(fax_get_t30_state(state), path, -1)
    }

    /// The pages of `path` (TIFF-F) are sent.
    public func setTransmitFile(_ path: String) {
        t30_set_tx_file(fax_get_t30_state(state), path, -1, -1)
    }

    /// The identity (up to 20 characters: digits, '+' and space) sent to the other machine.
    public func setIdentity(_ identity: String) {
        _ = t30_set_tx_ident(fax_get_t30_state(state), identity)
    }

    /// The level (dBm0) above which the receivers take a signal for a carrier. spandsp's own,
    /// about -43, lets line noise 30 dB below a -14 dBm0 fax signal stall T.30; at -38 (carrier
    /// on at -35.5, off at -40.5) that noise is 6 dB under it and a fax arriving after 18 dB of
    /// line loss (at -32 dBm0) is still heard (docs/FAX.md).
    public static let carrierCutoff: Float = -38

    /// Hears the line.
    public func receive(_ samples: UnsafePointer<Int16>, count: Int) {
        // Again every block: the front end re-initialises a receiver when T.30 switches to it.
        lc_fax_set_signal_cutoff(UnsafeMutableRawPointer(state), Self.carrierCutoff)
        _ = fax_rx(state, UnsafeMutablePointer(mutating: samples), Int32(count))
    }

    /// Speaks on the line: fills `count` samples (silence when it has nothing to send).
    public func transmit(into samples: UnsafeMutablePointer<Int16>, count: Int) {
        let n = Int(fax_tx(state, samples, Int32(count)))
        if n < count { (samples + n).update(repeating: 0, count: count - n) }
    }

    /// The T.30 completion code once the session has ended (0 is success), nil before.
    public var completion: Int32? {
        let code = completionCode.pointee
        return code < 0 ? nil : code
    }

    /// spandsp's text for a completion code.
    public static func describe(completion code: Int32) -> String {
        String(cString: t30_completion_code_to_str(code))
    }
}

private func faxPhaseEHandler(_ t30: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ code: Int32) {
    Unmanaged<FaxTerminal>.fromOpaque(userData!).takeUnretainedValue().finished(code)
}

private func faxPhaseBHandler(_ t30: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ result: Int32) -> Int32 {
    Unmanaged<FaxTerminal>.fromOpaque(userData!).takeUnretainedValue().negotiated()
    return Int32(T30_ERR_OK)
}

private func faxPhaseDHandler(_ t30: OpaquePointer?, _ userData: UnsafeMutableRawPointer?, _ result: Int32) -> Int32 {
    Unmanaged<FaxTerminal>.fromOpaque(userData!).takeUnretainedValue().pageDone(result)
    return Int32(T30_ERR_OK)
}
