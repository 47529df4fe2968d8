import CSpanDSP

/// Caller ID standards spandsp's ADSI code speaks.
public enum CallerIDStandard: Sendable {
    /// Bellcore/Telcordia CLASS: Bell 202 FSK after the first ring (North America).
    case bellcore
    /// ETSI EN 300 659 CLIP: V.23 FSK after the first ring (UK and Europe, simplified:
    /// without the line reversal and alert tone some networks send first).
    case etsi

    var code: Int32 { self == .bellcore ? Int32(ADSI_STANDARD_CLASS) : Int32(ADSI_STANDARD_CLIP) }
    var messageType: UInt8 { UInt8(self == .bellcore ? CLASS_MDMF_CALLERID : CLIP_MDMF_CALLERID) }
}

/// Makes the caller ID signal a line sends between rings, with spandsp's `adsi_tx`. The
/// message is built up front (`load`); `generate` is safe inside the tick.
public final class CallerIDGenerator {
    private let state: OpaquePointer
    private let standard: CallerIDStandard
    private var message: [UInt8] = []
    public private(set) var active = false

    public init(_ standard: CallerIDStandard) {
        self.standard = standard
        guard let s = adsi_tx_init(nil, standard.code) else { fatalError("spandsp adsi_tx_init failed: out of memory") }
        state = s
    }

    deinit { adsi_tx_free(state) }

    /// Builds the multiple-data-message caller ID for `number` (digits; empty: "unavailable")
    /// and `name`, stamped `month`/`day`/`hour`/`minute`. Not for the tick.
    public static func message(_ standard: CallerIDStandard, number: String, name: String? = nil,
                               month: Int = 1, day: Int = 1, hour: Int = 0, minute: Int = 0) -> [UInt8] {
        guard let tx = adsi_tx_init(nil, standard.code) else { return [] }
        defer { adsi_tx_free(tx) }
        var buffer = [UInt8](repeating: 0, count: 256)
        var length = Int32(0)
        buffer.withUnsafeMutableBufferPointer { b in
            length = adsi_add_field(tx, b.baseAddress, 0, standard.messageType, nil, 0)
            let date = Array(String(format: "%02d%02d%02d%02d", month, day, hour, minute).utf8)
            length = adsi_add_field(tx, b.baseAddress, length, 0x01, date, Int32(date.count))
            // Type 2 is the number; type 4 says why it is absent ("O": out of area).
            let digits = Array(number.utf8.prefix(20))
            if digits.isEmpty {
                length = adsi_add_field(tx, b.baseAddress, length, 0x04, [UInt8(ascii: "O")], 1)
            } else {
                length = adsi_add_field(tx, b.baseAddress, length, 0x02, digits, Int32(digits.count))
            }
            if let name, !name.isEmpty {
                let bytes = Array(name.utf8.prefix(20))
                length = adsi_add_field(tx, b.baseAddress, length, 0x07, bytes, Int32(bytes.count))
            }
        }
        return Array(buffer.prefix(Int(max(0, length))))
    }

    /// Takes a message from `message(_:number:...)` to send from the next `generate`.
    /// The array's storage is kept, so this is safe in the tick when `message` was made
    /// outside it.
    public func start(_ message: [UInt8]) {
        self.message = message
        guard !message.isEmpty else { return }
        _ = adsi_tx_init(state, standard.code)
        message.withUnsafeBufferPointer { _ = adsi_tx_put_message(state, $0.baseAddress, Int32($0.count)) }
        active = true
    }

    /// Writes up to `count` samples of the signal; returns how many (0 once it is all sent).
    public func generate(into samples: UnsafeMutablePointer<Int16>, count: Int) -> Int {
        guard active else { return 0 }
        let n = Int(adsi_tx(state, samples, Int32(count)))
        if n < count { active = false }
        return n
    }
}

/// Decodes caller ID from received audio with spandsp's `adsi_rx`, keeping the number.
/// Safe inside the tick: the C callback writes into memory made here.
public final class CallerIDReceiver {
    /// What the C callback fills in.
    struct Pending {
        var ready: Int32
        var length: Int32
        var rx: OpaquePointer?
        var digits: UnsafeMutablePointer<UInt8>
    }

    static let capacity = 32
    private let pending: UnsafeMutablePointer<Pending>
    private let digits: UnsafeMutablePointer<UInt8>
    private let state: OpaquePointer
    private let standard: CallerIDStandard

    public init(_ standard: CallerIDStandard) {
        self.standard = standard
        digits = .allocate(capacity: Self.capacity)
        digits.initialize(repeating: 0, count: Self.capacity)
        pending = .allocate(capacity: 1)
        pending.initialize(to: Pending(ready: 0, length: 0, rx: nil, digits: digits))
        guard let s = adsi_rx_init(nil, standard.code, callerIDMessageCallback, UnsafeMutableRawPointer(pending)) else {
            fatalError("spandsp adsi_rx_init failed: out of memory")
        }
        state = s
        pending.pointee.rx = s
    }

    deinit {
        adsi_rx_free(state)
        pending.deallocate()
        digits.deallocate()
    }

    public func reset() {
        _ = adsi_rx_init(state, standard.code, callerIDMessageCallback, UnsafeMutableRawPointer(pending))
        pending.pointee.ready = 0
    }

    /// Feeds received samples; calls `report` with the caller's number (ASCII bytes; "O"
    /// or "P" when the network says it is out of area or private).
    @inline(__always)
    public func process(_ samples: UnsafePointer<Int16>, count: Int, _ report: (UnsafePointer<UInt8>, Int) -> Void) {
        _ = adsi_rx(state, samples, Int32(count))
        if pending.pointee.ready != 0 {
            pending.pointee.ready = 0
            report(digits, Int(pending.pointee.length))
        }
    }
}

private func callerIDMessageCallback(_ userData: UnsafeMutableRawPointer?, _ message: UnsafePointer<UInt8>?, _ length: Int32) {
    guard let userData, let message, length > 0 else { return }
    let pending = userData.assumingMemoryBound(to: CallerIDReceiver.Pending.self)
    var position: Int32 = -1
    var type: UInt8 = 0
    var body: UnsafePointer<UInt8>?
    var fieldLength: Int32 = 0
    var found: Int32 = 0
    while true {
        position = adsi_next_field(pending.pointee.rx, message, length, position, &type, &body, &fieldLength)
        if fieldLength < 0 || position < 0 { break }
        guard let body, fieldLength > 0 else { continue }
        // 2: the number; 4: why it is absent (SDMF and MDMF alike in both standards).
        if type == 0x02 || (type == 0x04 && found == 0) {
            let n = min(Int(fieldLength), CallerIDReceiver.capacity)
            pending.pointee.digits.update(from: body, count: n)
            found = Int32(n)
            if type == 0x02 { break }
        }
    }
    if found > 0 {
        pending.pointee.length = found
        pending.pointee.ready = 1
    }
}
