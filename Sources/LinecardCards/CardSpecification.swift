import AlsaCard
import DahdiCard
import Linecard
import LinecardDSP
import LinecardCore
import LinecardEngine
import LinecardISDN
import SimulatedCard

/// Which card to open and how: the one description the gateway's configuration (`card`)
/// and the `linecard` tool's `--card` both read, checked once, and opened by one function.
public struct CardSpecification: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The simulated card and exchange (no hardware).
        case simulated
        /// DAHDI channels (analog, T1/E1/BRI bearer channels, dynamic spans).
        case dahdi
        /// ALSA capture/playback devices, each a clear line.
        case alsa
    }

    public enum Clock: String, Sendable, Codable, CaseIterable {
        /// Real time, as hardware runs.
        case paced
        /// As fast as the CPU allows; line time follows the program (simulated card only).
        case virtual
    }

    public var kind = Kind.simulated
    /// The simulated card's ISDN span instead of its analog ports (`sim:e1`, `sim:t1`,
    /// `sim:bri`, `sim:bri-ptmp`): libpri on both sides of a simulated D-channel. It runs in
    /// real time, as libpri's timers read the wall clock.
    public var isdn: IsdnSpanDescription.Variant?
    /// The simulated card's ports.
    public var fxoPorts = 4
    public var fxsPorts = 2
    /// On DAHDI, the channel numbers to open (nil: every audio channel).
    public var channels: [Int]?
    /// On ALSA, the devices to open (`plughw:CARD=Device,DEV=0`).
    public var devices: [String] = []
    /// Tone plan of the simulated exchange and of the detectors.
    public var country = TonePlan.Country.us
    public var clock = Clock.paced
    public var blockSize = 160

    public init() {}

    /// The tool's form: `sim`, `sim:e1` (`t1`, `bri`, `bri-ptmp`), `dahdi`, `dahdi:1,2,5` or
    /// `alsa:DEVICE[,DEVICE…]`.
    public init(parsing text: String) throws(CardSpecificationError) {
        let (name, rest) = text.firstIndex(of: ":").map { (String(text[..<$0]), String(text[text.index(after: $0)...])) } ?? (text, nil)
        switch name {
        case "sim", "simulated":
            kind = .simulated
            if let rest {
                guard let variant = IsdnSpanDescription.Variant(rawValue: rest) else {
                    throw CardSpecificationError("\(text): the simulated card's spans are e1, t1, bri and bri-ptmp (sim:e1), or none for analog lines")
                }
                isdn = variant
                clock = .paced
            }
        case "dahdi":
            kind = .dahdi
            if let rest {
                var numbers: [Int] = []
                for word in rest.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let number = Int(word), number > 0 else {
                        throw CardSpecificationError("\(text): \"\(word)\" is not a DAHDI channel number")
                    }
                    numbers.append(number)
                }
                channels = numbers
            }
        case "alsa":
            kind = .alsa
            devices = (rest ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
            guard !devices.isEmpty else { throw CardSpecificationError("\(text) names no device: alsa:DEVICE[,DEVICE…]") }
        default:
            throw CardSpecificationError("\(text) is not a card: use sim, sim:e1 (t1, bri, bri-ptmp), dahdi[:CHANNEL,…] or alsa:DEVICE[,DEVICE…]")
        }
        try validate()
    }

    /// How the tool writes it back.
    public var name: String {
        switch kind {
        case .simulated: isdn.map { "sim:" + $0.rawValue } ?? "sim"
        case .dahdi: channels.map { "dahdi:" + $0.map(String.init).joined(separator: ",") } ?? "dahdi"
        case .alsa: "alsa:" + devices.joined(separator: ",")
        }
    }

    public func validate() throws(CardSpecificationError) {
        guard blockSize % 8 == 0, (8...160).contains(blockSize) else {
            throw CardSpecificationError("must be a multiple of 8 from 8 to 160, not \(blockSize)", field: "blockSize")
        }
        switch kind {
        case .simulated:
            guard (1...64).contains(fxoPorts) else { throw CardSpecificationError("the simulated card has 1 to 64 FXO ports", field: "fxoPorts") }
            guard (0...64).contains(fxsPorts) else { throw CardSpecificationError("the simulated card has 0 to 64 FXS ports", field: "fxsPorts") }
            if isdn != nil, clock == .virtual {
                throw CardSpecificationError("a simulated ISDN span runs in real time (libpri's timers read the wall clock): use the paced clock", field: "clock")
            }
        case .dahdi:
            guard blockSize >= 16 else { throw CardSpecificationError("DAHDI's smallest block is 16 samples, not \(blockSize)", field: "blockSize") }
            if let channels, channels.isEmpty { throw CardSpecificationError("name at least one DAHDI channel, or none for all", field: "channels") }
        case .alsa:
            guard !devices.isEmpty else {
                throw CardSpecificationError("name at least one ALSA device (e.g. plughw:CARD=Device,DEV=0)", field: "devices")
            }
        }
    }

    /// Opens the card and starts its engine. Hardware keeps its own time; `realtime` asks
    /// for real-time scheduling of its tick (refusals are logged).
    public func open(localChannels: Int = 4, realtime: Bool = true) throws -> OpenedCard {
        try validate()
        let plan = TonePlan.for(country)
        switch kind {
        case .simulated:
            if let isdn { return try openSimulatedSpan(isdn, localChannels: localChannels, plan: plan) }
            let sim = SimulatedCard(fxoPorts: fxoPorts, fxsPorts: fxsPorts, exchange: ExchangeConfiguration(country: country))
            let card = try Card(backend: sim, engine: EngineConfiguration(
                blockSize: blockSize, clock: clock == .virtual ? .virtual : .paced, realtime: false, tonePlan: plan),
                localChannels: localChannels)
            return OpenedCard(card: card, simulated: sim, dahdiChannels: nil)
        case .dahdi:
            let dahdi = try DahdiCard(channels: channels)
            // Spans with a D-channel carry their B-channels' calls by Q.931, as the user's side.
            let isdn = dahdi.isdnSpans.isEmpty ? nil : try IsdnStack(card: dahdi)
            let card: Card
            do {
                card = try Card(backend: dahdi, engine: EngineConfiguration(blockSize: blockSize, realtime: realtime, tonePlan: plan),
                                localChannels: localChannels, callControl: isdn)
            } catch {
                isdn?.stop()
                throw error
            }
            isdn?.start(card)
            return OpenedCard(card: card, simulated: nil, dahdiChannels: dahdi.channelNumbers, isdn: isdn)
        case .alsa:
            let alsa = try AlsaCard(devices: devices)
            let card = try Card(backend: alsa, engine: EngineConfiguration(blockSize: blockSize, realtime: realtime, tonePlan: plan),
                                localChannels: localChannels)
            return OpenedCard(card: card, simulated: nil, dahdiChannels: nil)
        }
    }
}

extension CardSpecification {
    /// The simulated card with one ISDN span, the exchange's network side on its D-channel
    /// and our side's session on the card's, ready once the D-channel is up.
    private func openSimulatedSpan(_ variant: IsdnSpanDescription.Variant, localChannels: Int, plan: TonePlan) throws -> OpenedCard {
        // An unanswered call rings for a minute before the exchange gives up (cause 19).
        let sim = try SimulatedCard(isdn: variant, exchange: ExchangeConfiguration(country: country, ringingTimeoutMilliseconds: 60_000))
        let network = try SimulatedIsdnNetwork(card: sim)
        let stack = try IsdnStack(card: sim)
        let card: Card
        do {
            card = try Card(backend: sim, engine: EngineConfiguration(blockSize: blockSize, clock: .paced, realtime: false, tonePlan: plan),
                            localChannels: localChannels, callControl: stack)
        } catch {
            network.stop()
            throw error
        }
        stack.start(card)
        guard stack.waitUntilUp(timeout: .seconds(5)) else {
            card.shutdown()
            stack.stop()
            network.stop()
            throw IsdnError("the simulated \(variant.rawValue) span's D-channel did not come up in 5 s")
        }
        return OpenedCard(card: card, simulated: sim, dahdiChannels: nil, isdn: stack, isdnNetwork: network)
    }
}

/// A card opened from a `CardSpecification`.
public struct OpenedCard: Sendable {
    public let card: Card
    /// The simulated card, when that is what was opened (its exchange can place test calls).
    public let simulated: SimulatedCard?
    /// Each port's DAHDI channel number, on DAHDI.
    public let dahdiChannels: [Int]?
    /// The ISDN call control of the card's spans, when it has any.
    public let isdn: IsdnStack?
    /// The simulated exchange's ISDN side (`sim:e1` and the like).
    public let isdnNetwork: SimulatedIsdnNetwork?

    init(card: Card, simulated: SimulatedCard?, dahdiChannels: [Int]?, isdn: IsdnStack? = nil, isdnNetwork: SimulatedIsdnNetwork? = nil) {
        self.card = card
        self.simulated = simulated
        self.dahdiChannels = dahdiChannels
        self.isdn = isdn
        self.isdnNetwork = isdnNetwork
    }

    /// Stops the card, then its call control and the simulated network.
    public func shutdown() {
        card.shutdown()
        isdn?.stop()
        isdnNetwork?.stop()
    }
}

/// What is wrong with a card specification.
public struct CardSpecificationError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// The specification's field at fault (`devices`, `blockSize`, …), or nil for the whole.
    public let field: String?
    init(_ message: String, field: String? = nil) {
        self.message = message
        self.field = field
    }

    public var description: String { field.map { "\($0): \(message)" } ?? message }
}
