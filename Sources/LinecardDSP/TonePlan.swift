/// The call-progress tones a caller hears.
public enum CallProgressTone: String, Sendable, CaseIterable, Codable, BitwiseCopyable {
    case dial
    case ringback
    case busy
    case congestion
    /// The three rising tones before an intercept message (ITU-T E.180): number unobtainable.
    case specialInformation
}

/// A country's telephone tones and ring cadence: what an exchange plays and what a line
/// listens for.
public struct TonePlan: Sendable {
    public enum Country: String, Sendable, CaseIterable, Codable {
        case us
        case uk
        /// CEPT/ETSI 425 Hz tones (most of continental Europe).
        case eu
    }

    public let country: Country
    /// Tones as an exchange plays them.
    public let tones: [CallProgressTone: ToneSpec]
    /// The ringing cadence on an analog line, on/off milliseconds.
    public let ringCadence: [Int]
    /// How each tone is recognised. Ringback patterns are tuned to report within one cadence.
    public let detection: [CallProgressTone: [ToneElement]]

    /// The special-information tone as three steps (frequency, milliseconds), then silence.
    public static let specialInformationSteps: [(frequency: Int, milliseconds: Int)] = [(914, 274), (1371, 274), (1777, 380)]
    public static let specialInformationLevel = -24

    public static func `for`(_ country: Country) -> TonePlan {
        switch country {
        case .us: .us
        case .uk: .uk
        case .eu: .eu
        }
    }

    private static let sitDetection: [ToneElement] = [
        ToneElement(914, minimum: 200, maximum: 450), ToneElement(1371, minimum: 200, maximum: 450),
        ToneElement(1777, minimum: 280, maximum: 450),
    ]

    /// North American precise tones (ANSI T1.401).
    public static let us = TonePlan(
        country: .us,
        tones: [
            .dial: .continuous(350, 440, level: -13),
            .ringback: .cadenced(440, 480, level: -19, 2000, 4000),
            .busy: .cadenced(480, 620, level: -24, 500, 500),
            .congestion: .cadenced(480, 620, level: -24, 250, 250),
            .specialInformation: .continuous(914, level: specialInformationLevel),
        ],
        ringCadence: [2000, 4000],
        detection: [
            .dial: [ToneElement(350, 440, minimum: 700, maximum: 0)],
            .ringback: [ToneElement(440, 480, minimum: 800, maximum: 2500)],
            .busy: [ToneElement(480, 620, minimum: 400, maximum: 600), .silence(minimum: 400, maximum: 600)],
            .congestion: [ToneElement(480, 620, minimum: 180, maximum: 320), .silence(minimum: 180, maximum: 320)],
            .specialInformation: sitDetection,
        ])

    /// United Kingdom (BT SIN 350).
    public static let uk = TonePlan(
        country: .uk,
        tones: [
            .dial: .continuous(350, 440, level: -13),
            .ringback: .cadenced(400, 450, level: -19, 400, 200, 400, 2000),
            .busy: .cadenced(400, level: -20, 375, 375),
            .congestion: .cadenced(400, level: -20, 400, 350, 225, 525),
            .specialInformation: .continuous(914, level: specialInformationLevel),
        ],
        ringCadence: [400, 200, 400, 2000],
        detection: [
            .dial: [ToneElement(350, 440, minimum: 700, maximum: 0)],
            .ringback: [
                ToneElement(400, 450, minimum: 300, maximum: 500), .silence(minimum: 150, maximum: 280),
                ToneElement(400, 450, minimum: 300, maximum: 500), .silence(minimum: 1000, maximum: 2300),
            ],
            .busy: [
                ToneElement(400, minimum: 320, maximum: 430), .silence(minimum: 320, maximum: 430),
                ToneElement(400, minimum: 320, maximum: 430), .silence(minimum: 320, maximum: 430),
            ],
            .congestion: [
                ToneElement(400, minimum: 340, maximum: 460), .silence(minimum: 290, maximum: 410),
                ToneElement(400, minimum: 170, maximum: 280), .silence(minimum: 450, maximum: 600),
            ],
            .specialInformation: sitDetection,
        ])

    /// CEPT recommendation T/CS 20-15 / ETSI TR 101 041 (425 Hz).
    public static let eu = TonePlan(
        country: .eu,
        tones: [
            .dial: .continuous(425, level: -13),
            .ringback: .cadenced(425, level: -19, 1000, 4000),
            .busy: .cadenced(425, level: -20, 500, 500),
            .congestion: .cadenced(425, level: -20, 250, 250),
            .specialInformation: .continuous(914, level: specialInformationLevel),
        ],
        ringCadence: [1000, 4000],
        detection: [
            .dial: [ToneElement(425, minimum: 1500, maximum: 0)],
            .ringback: [ToneElement(425, minimum: 800, maximum: 1300), .silence(minimum: 1000, maximum: 4500)],
            .busy: [ToneElement(425, minimum: 400, maximum: 600), .silence(minimum: 400, maximum: 600)],
            .congestion: [ToneElement(425, minimum: 180, maximum: 320), .silence(minimum: 180, maximum: 320)],
            .specialInformation: sitDetection,
        ])

    /// The order in which tones appear in `detectionSet`; a detector's reported index maps
    /// back through this list.
    public static let detectionOrder: [CallProgressTone] = [.dial, .ringback, .busy, .congestion, .specialInformation]

    /// A spandsp tone set for every call-progress tone of this plan.
    public func makeDetectionSet() -> SupervisoryToneSet {
        SupervisoryToneSet(Self.detectionOrder.map { detection[$0]! })
    }
}
