import CSpanDSP

/// ITU-T G.711 companding laws.
public enum G711Law: String, Sendable, CaseIterable, Codable {
    case alaw
    case ulaw

    @inline(__always)
    public func encode(_ sample: Int16) -> UInt8 {
        switch self {
        case .alaw: linear_to_alaw(Int32(sample))
        case .ulaw: linear_to_ulaw(Int32(sample))
        }
    }

    @inline(__always)
    public func decode(_ code: UInt8) -> Int16 {
        switch self {
        case .alaw: alaw_to_linear(code)
        case .ulaw: ulaw_to_linear(code)
        }
    }

    /// Encodes and decodes in place, as a G.711 link would.
    @inline(__always)
    public func roundTrip(_ samples: UnsafeMutablePointer<Int16>, count: Int) {
        for i in 0..<count { samples[i] = decode(encode(samples[i])) }
    }
}
