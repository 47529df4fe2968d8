import LinecardDSP

/// How the simulated exchange behaves: its country's tones, its numbering plan and how it
/// signals answer and clear.
public struct ExchangeConfiguration: Sendable {
    public var country: TonePlan.Country
    /// Whether answer (and the return to normal at clear) is signalled by polarity reversal.
    public var answerByPolarityReversal: Bool
    /// Loop-current drop on far-end clear, in milliseconds (0: none).
    public var clearLoopCurrentDropMilliseconds: Int
    /// The tone after a far-end clear (nil: silence), starting this long after the clear.
    public var clearTone: CallProgressTone?
    public var clearToneDelayMilliseconds: Int
    /// Routes by dialled number. Ports of the card are reached at `portNumberBase + port`.
    public var routes: [String: Route]
    public var portNumberBase: Int
    /// Impairments on calls between ports of the card.
    public var portImpairments: Impairments
    /// Waiting for the next digit; then what was dialled is routed as it stands.
    public var interdigitTimeoutMilliseconds: Int
    /// Off-hook without dialling this long gets congestion tone.
    public var dialToneTimeoutMilliseconds: Int
    /// Hook timing as the exchange reads it: an on-hook break up to `pulseBreakMaximum` is a
    /// dial pulse, up to `flashMaximum` a hook flash, longer a hang-up.
    public var pulseBreakMaximumMilliseconds: Int
    public var flashMaximumMilliseconds: Int
    /// A pause in pulses this long ends a digit.
    public var interPulseDigitGapMilliseconds: Int
    /// How long an unanswered outgoing call rings before the exchange gives up (congestion).
    public var ringingTimeoutMilliseconds: Int

    public init(country: TonePlan.Country = .us, answerByPolarityReversal: Bool = true,
                clearLoopCurrentDropMilliseconds: Int = 350, clearTone: CallProgressTone? = .busy,
                clearToneDelayMilliseconds: Int = 1000, routes: [String: Route] = ExchangeConfiguration.defaultRoutes,
                portNumberBase: Int = 100, portImpairments: Impairments = Impairments(),
                interdigitTimeoutMilliseconds: Int = 4000, dialToneTimeoutMilliseconds: Int = 15_000,
                pulseBreakMaximumMilliseconds: Int = 120, flashMaximumMilliseconds: Int = 700,
                interPulseDigitGapMilliseconds: Int = 250, ringingTimeoutMilliseconds: Int = 180_000) {
        self.country = country
        self.answerByPolarityReversal = answerByPolarityReversal
        self.clearLoopCurrentDropMilliseconds = clearLoopCurrentDropMilliseconds
        self.clearTone = clearTone
        self.clearToneDelayMilliseconds = clearToneDelayMilliseconds
        self.routes = routes
        self.portNumberBase = portNumberBase
        self.portImpairments = portImpairments
        self.interdigitTimeoutMilliseconds = interdigitTimeoutMilliseconds
        self.dialToneTimeoutMilliseconds = dialToneTimeoutMilliseconds
        self.pulseBreakMaximumMilliseconds = pulseBreakMaximumMilliseconds
        self.flashMaximumMilliseconds = flashMaximumMilliseconds
        self.interPulseDigitGapMilliseconds = interPulseDigitGapMilliseconds
        self.ringingTimeoutMilliseconds = ringingTimeoutMilliseconds
    }

    /// The default numbering plan (documented in README.md).
    public static let defaultRoutes: [String: Route] = [
        "200": Route(.person(Person(answerAfterRings: 2, digits: "1234"))),
        "201": Route(.person(Person(answerAfterRings: 1, echoesDigits: true))),
        "202": Route(.person(Person(answerAfterRings: 1, hangsUpAfterMilliseconds: 5000))),
        "210": Route(.person(Person(answerAfterRings: 1, echoesDigits: true)),
                     impairments: Impairments(lossDecibels: 6, noiseLevel: -45, echo: EchoPath(delayMilliseconds: 16, returnLossDecibels: 14), codec: .alaw)),
        "300": Route(.busy),
        "400": Route(.noAnswer),
        "500": Route(.unobtainable),
        "600": Route(.congestion),
        "700": Route(.answeringMachine(AnsweringMachine())),
        "800": Route(.faxMachine(FaxMachine())),
    ]

    /// The number that rings `port` of the card.
    public func number(ofPort port: Int) -> String { String(portNumberBase + port) }
}

/// Where a number leads, and over what kind of line.
public struct Route: Sendable {
    public var farEnd: FarEnd
    public var impairments: Impairments

    public init(_ farEnd: FarEnd, impairments: Impairments = Impairments()) {
        self.farEnd = farEnd
        self.impairments = impairments
    }
}

/// The scripted party at the end of a route.
public enum FarEnd: Sendable {
    case person(Person)
    case busy
    case noAnswer
    /// Special-information tone (number unobtainable).
    case unobtainable
    case congestion
    case answeringMachine(AnsweringMachine)
    /// A fax machine (spandsp's T.30 terminal): answers with CED, or calls with CNG.
    case faxMachine(FaxMachine)
    /// Another FXO port of the same card, which sees an incoming call.
    case port(Int)
}

/// A person on the far end of a call (or calling in).
public struct Person: Sendable {
    /// Rings before answering (outgoing calls); an incoming caller waits this many rings
    /// times four before giving up.
    public var answerAfterRings: Int
    /// Says "hello" on answering.
    public var greets: Bool
    /// Digits pressed once, `digitDelayMilliseconds` after the greeting.
    public var digits: String
    public var digitDelayMilliseconds: Int
    /// Presses back every digit heard.
    public var echoesDigits: Bool
    /// Hangs up this long after answering (nil: stays until the other side hangs up).
    public var hangsUpAfterMilliseconds: Int?

    public init(answerAfterRings: Int = 2, greets: Bool = true, digits: String = "", digitDelayMilliseconds: Int = 1000,
                echoesDigits: Bool = false, hangsUpAfterMilliseconds: Int? = nil) {
        self.answerAfterRings = answerAfterRings
        self.greets = greets
        self.digits = digits
        self.digitDelayMilliseconds = digitDelayMilliseconds
        self.echoesDigits = echoesDigits
        self.hangsUpAfterMilliseconds = hangsUpAfterMilliseconds
    }
}

/// A fax machine on one line: a second call while it is busy gets busy tone. Answering, it
/// receives into `receiveFile` (nil: a file of its own in the temporary folder, replaced on
/// each call) and sends `sendFile` if the caller
/// polls; calling, it sends `sendFile`. It hangs up half a second after T.30 ends (about
/// 22 s after answering when the other end never shows fax signals).
public struct FaxMachine: Sendable {
    public var answerAfterRings: Int
    public var receiveFile: String?
    public var sendFile: String?
    public var identity: String
    /// The machine stops hearing and sending this long after answering and stays on the
    /// line, as a jammed machine does (nil: never). 0 is a line with nothing on it.
    public var fallsSilentAfterMilliseconds: Int?

    public init(answerAfterRings: Int = 1, receiveFile: String? = nil, sendFile: String? = nil, identity: String = "+1 555 0800",
                fallsSilentAfterMilliseconds: Int? = nil) {
        self.answerAfterRings = answerAfterRings
        self.receiveFile = receiveFile
        self.sendFile = sendFile
        self.identity = identity
        self.fallsSilentAfterMilliseconds = fallsSilentAfterMilliseconds
    }
}

/// An answering machine: greeting, beep, then it records until it hangs up.
public struct AnsweringMachine: Sendable {
    public var answerAfterRings: Int
    public var greetingMilliseconds: Int
    public var beepFrequency: Int
    public var beepMilliseconds: Int
    public var recordMilliseconds: Int

    public init(answerAfterRings: Int = 3, greetingMilliseconds: Int = 4000, beepFrequency: Int = 1000,
                beepMilliseconds: Int = 400, recordMilliseconds: Int = 30_000) {
        self.answerAfterRings = answerAfterRings
        self.greetingMilliseconds = greetingMilliseconds
        self.beepFrequency = beepFrequency
        self.beepMilliseconds = beepMilliseconds
        self.recordMilliseconds = recordMilliseconds
    }
}

/// What a route does to audio.
public struct Impairments: Sendable, Equatable {
    /// Attenuation in both directions.
    public var lossDecibels: Double
    /// White noise added towards the card, in dBm0 (nil: none).
    public var noiseLevel: Double?
    /// Talker echo: the card hears its own transmission back.
    public var echo: EchoPath?
    /// A G.711 encode/decode in both directions.
    public var codec: G711Law?

    public init(lossDecibels: Double = 0, noiseLevel: Double? = nil, echo: EchoPath? = nil, codec: G711Law? = nil) {
        self.lossDecibels = lossDecibels
        self.noiseLevel = noiseLevel
        self.echo = echo
        self.codec = codec
    }

    public var isNone: Bool { lossDecibels == 0 && noiseLevel == nil && echo == nil && codec == nil }
}

public struct EchoPath: Sendable, Equatable {
    public var delayMilliseconds: Int
    public var returnLossDecibels: Double

    public init(delayMilliseconds: Int, returnLossDecibels: Double) {
        self.delayMilliseconds = delayMilliseconds
        self.returnLossDecibels = returnLossDecibels
    }
}
