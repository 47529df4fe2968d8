import Foundation
import LinecardDSP
import LinecardEngine
import Synchronization

/// A card with no hardware: FXO ports wired to a model exchange, FXS ports wired to model
/// telephones. The default backend for tests, demos and CI.
///
/// The code above the backend learns what happens only from audio and line signals, as it
/// would on a real card. Tests and demos drive the far side (callers, telephones, faults)
/// through the methods in "The far side" and read what it experienced from `drainNotes`.
public final class SimulatedCard: IsdnCard, @unchecked Sendable {
    public let name: String
    public let ports: [PortDescription]
    /// The ISDN span, when the card was made with one (`init(name:isdn:exchange:)`); its
    /// D-channel is one end of a socket pair, the network's end is `isdnNetworkSocket`.
    public let isdnSpans: [IsdnSpanDescription]
    /// The network's end of the span's D-channel (-1 on an analog card).
    public let isdnNetworkSocket: Int32
    /// Who offers each call the network is to place towards a B-channel (`placeCall`).
    private let offers = Mutex<[Int: OfferedCall]>([:])
    public let clock = CardClock.host
    public let exchangeConfiguration: ExchangeConfiguration

    private let exchange: Exchange
    private let control = CommandQueue<Control>(capacity: 1024)
    private let portFlags: [PortFlag]
    private let closed = Atomic<Bool>(false)
    private var removed = false

    /// The tick's view of the ports: unretained references (the exchange owns them) and
    /// plain flags, so that a tick touches no reference counts.
    private struct PortEntry {
        var line: Unmanaged<ExchangeLine>?
        var telephone: Unmanaged<Telephone>?
        /// Open as the tick sees it (opened and closed through the control queue).
        var open: Bool
        var alarmed: Bool
    }
    private let table: UnsafeMutableBufferPointer<PortEntry>

    private enum Control: BitwiseCopyable {
        case call(port: Int32, route: Int32)
        case lift(port: Int32, greeting: Bool)
        case hangUp(port: Int32)
        case dial(port: Int32, DigitString)
        case flash(port: Int32)
        case answerAfterRings(port: Int32, Int32)
        case seize(port: Int32, DigitString)
        case answerOffered(port: Int32)
        case releaseByNetwork(port: Int32)
        case alarm(port: Int32, Bool)
        case remove
        case setOpen(port: Int32, Bool)
    }

    private final class PortFlag: Sendable {
        let open = Atomic<Bool>(false)
    }

    /// - Parameters:
    ///   - fxoPorts: ports facing the exchange (numbered first).
    ///   - fxsPorts: ports with a telephone (numbered after the FXO ports).
    public init(name: String = "sim0", fxoPorts: Int = 4, fxsPorts: Int = 2,
                exchange configuration: ExchangeConfiguration = ExchangeConfiguration()) {
        self.name = name
        exchangeConfiguration = configuration
        isdnSpans = []
        isdnNetworkSocket = -1
        let exchange = Exchange(configuration: configuration, portCount: fxoPorts + fxsPorts)
        self.exchange = exchange
        var descriptions: [PortDescription] = []
        for i in 0..<fxoPorts {
            descriptions.append(PortDescription(index: i, name: "\(name)/fxo\(i + 1) (line \(configuration.number(ofPort: i)))",
                                                kind: .fxo, signalling: "fxsks"))
        }
        for i in 0..<fxsPorts {
            descriptions.append(PortDescription(index: fxoPorts + i, name: "\(name)/fxs\(i + 1)", kind: .fxs, signalling: "fxoks"))
        }
        ports = descriptions
        portFlags = descriptions.map { _ in PortFlag() }
        exchange.lines = descriptions.map {
            $0.kind == .fxo ? ExchangeLine(port: $0.index, exchange: exchange, lastTransmit: exchange.lastTransmit + $0.index * 160) : nil
        }
        exchange.telephones = descriptions.map { $0.kind == .fxs ? Telephone(port: $0.index, exchange: exchange) : nil }
        let lines = exchange.lines, telephones = exchange.telephones
        let entries = UnsafeMutableBufferPointer<PortEntry>.allocate(capacity: max(1, descriptions.count))
        for i in descriptions.indices {
            var entry = PortEntry(line: nil, telephone: nil, open: false, alarmed: false)
            if let line = lines[i] { entry.line = Unmanaged.passUnretained(line) }
            if let telephone = telephones[i] { entry.telephone = Unmanaged.passUnretained(telephone) }
            entries[i] = entry
        }
        table = entries
    }

    /// A card with one ISDN span facing the simulated exchange: its B-channels are the ports
    /// (numbered from 0 in channel order), and its D-channel is a `SOCK_SEQPACKET` socket
    /// pair whose other end the exchange's network side (`LinecardISDN`) drives. The
    /// numbering plan is the analog exchange's.
    public init(name: String = "sim0", isdn variant: IsdnSpanDescription.Variant,
                exchange configuration: ExchangeConfiguration = ExchangeConfiguration()) throws {
        self.name = name
        exchangeConfiguration = configuration
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw CardError.device("cannot make the simulated D-channel: socketpair: \(String(cString: strerror(errno)))")
        }
        isdnNetworkSocket = pair[1]
        let channels = variant.bearerChannels
        let exchange = Exchange(configuration: configuration, portCount: channels.count)
        self.exchange = exchange
        var descriptions: [PortDescription] = []
        var bearers: [Int: Int] = [:]
        for (i, channel) in channels.enumerated() {
            descriptions.append(PortDescription(index: i, name: "\(name)/\(variant.rawValue) B\(channel) (line \(configuration.number(ofPort: i)))",
                                                kind: .isdnBearer, signalling: "bchan"))
            bearers[channel] = i
        }
        ports = descriptions
        isdnSpans = [IsdnSpanDescription(name: "\(name)/\(variant.rawValue)", variant: variant, bearers: bearers, dChannel: .socket(pair[0]))]
        portFlags = descriptions.map { _ in PortFlag() }
        exchange.lines = descriptions.map {
            ExchangeLine(port: $0.index, exchange: exchange, lastTransmit: exchange.lastTransmit + $0.index * 160, digital: true)
        }
        exchange.telephones = descriptions.map { _ in nil }
        let entries = UnsafeMutableBufferPointer<PortEntry>.allocate(capacity: max(1, descriptions.count))
        for i in descriptions.indices {
            entries[i] = PortEntry(line: exchange.lines[i].map { Unmanaged.passUnretained($0) }, telephone: nil, open: false, alarmed: false)
        }
        table = entries
    }

    deinit {
        table.deallocate()
        for span in isdnSpans {
            if case .socket(let fd) = span.dChannel { Glibc.close(fd) }
        }
        if isdnNetworkSocket >= 0 { Glibc.close(isdnNetworkSocket) }
    }

    // MARK: CardBackend

    public func open(port: Int, blockSize: Int) throws {
        guard !closed.load(ordering: .acquiring) else { throw CardError.cardClosed(name) }
        guard port >= 0, port < ports.count else { throw CardError.unknownPort(port, portCount: ports.count) }
        guard blockSize >= 8, blockSize <= 160, blockSize % 8 == 0 else { throw CardError.invalidBlockSize(blockSize) }
        let (exchanged, _) = portFlags[port].open.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        guard exchanged else { throw CardError.portAlreadyOpen(port) }
        do { try send(.setOpen(port: Int32(port), true)) } catch {
            portFlags[port].open.store(false, ordering: .releasing)
            throw error
        }
    }

    public func close(port: Int) {
        guard port >= 0, port < ports.count else { return }
        try? send(.setOpen(port: Int32(port), false))
        portFlags[port].open.store(false, ordering: .releasing)
    }

    public func shutdown() {
        closed.store(true, ordering: .releasing)
        for flag in portFlags { flag.open.store(false, ordering: .releasing) }
    }

    public func readBlocks(into samples: UnsafeMutablePointer<Int16>, blockSize: Int) {
        while let command = control.pop() { apply(command) }
        var port = 0
        while port < table.count {
            let entry = table[port]
            let block = samples + port * blockSize
            if removed || entry.alarmed {
                block.update(repeating: 0, count: blockSize)
            } else if let line = entry.line {
                line._withUnsafeGuaranteedRef { $0.produce(into: block, count: blockSize) }
            } else if let phone = entry.telephone {
                phone._withUnsafeGuaranteedRef { $0.produce(into: block, count: blockSize) }
            }
            port += 1
        }
    }

    public func writeBlocks(from samples: UnsafePointer<Int16>, blockSize: Int) {
        var port = 0
        while port < table.count {
            let entry = table[port]
            let open = entry.open && !removed && !entry.alarmed
            let block = open ? samples + port * blockSize : silence(blockSize)
            if let line = entry.line {
                line._withUnsafeGuaranteedRef { $0.consume(block, count: blockSize) }
            } else if let phone = entry.telephone, open {
                phone._withUnsafeGuaranteedRef { $0.consume(block, count: blockSize) }
            }
            port += 1
        }
        exchange.now += Int64(blockSize)
    }

    private let zeros: UnsafeMutablePointer<Int16> = {
        let p = UnsafeMutablePointer<Int16>.allocate(capacity: 160)
        p.initialize(repeating: 0, count: 160)
        return p
    }()

    @inline(__always)
    private func silence(_ count: Int) -> UnsafePointer<Int16> { UnsafePointer(zeros) }

    public func setHook(port: Int, _ command: HookCommand) -> Int32 {
        guard port >= 0, port < ports.count else { return 6 }  // ENXIO
        if removed { return 19 }  // ENODEV
        if let line = table[port].line?.takeUnretainedValue() {
            switch command {
            case .offHook: line.setHook(offHook: true)
            case .onHook: line.setHook(offHook: false)
            case .flash: line.flash()
            case .ringStart, .ringStop, .polarityNormal, .polarityReversed: return 22  // EINVAL: not on an FXO port
            }
        } else if let phone = table[port].telephone?.takeUnretainedValue() {
            switch command {
            case .ringStart: phone.startRinging()
            case .ringStop: phone.stopRinging()
            case .polarityNormal, .polarityReversed: break
            case .offHook, .onHook, .flash: return 22
            }
        }
        return 0
    }

    public func nextLineEvent() -> LineEvent? { exchange.lineEvents.pop() }

    private func apply(_ command: Control) {
        switch command {
        case .call(let port, let route):
            if let line = exchange.lines[Int(port)], let caller = exchange.caller(at: Int(route)) { _ = line.ring(from: caller) }
        case .lift(let port, let greeting): exchange.telephones[Int(port)]?.lift(greeting: greeting)
        case .hangUp(let port): exchange.telephones[Int(port)]?.hangUp()
        case .dial(let port, let digits): exchange.telephones[Int(port)]?.dial(digits)
        case .flash(let port): exchange.telephones[Int(port)]?.flash()
        case .answerAfterRings(let port, let rings): exchange.telephones[Int(port)]?.answerAfterRings = Int(rings)
        case .seize(let port, let number): exchange.lines[Int(port)]?.seize(number)
        case .answerOffered(let port): exchange.lines[Int(port)]?.answerOffered()
        case .releaseByNetwork(let port): exchange.lines[Int(port)]?.releaseByNetwork()
        case .alarm(let port, let on):
            guard table[Int(port)].alarmed != on else { return }
            table[Int(port)].alarmed = on
            exchange.post(Int(port), on ? .alarm : .alarmCleared)
        case .setOpen(let port, let open):
            table[Int(port)].open = open
        case .remove:
            guard !removed else { return }
            removed = true
            for port in 0..<ports.count { exchange.post(port, .removed) }
        }
    }

    // MARK: The far side

    /// The number that rings an FXO port from another port (see the numbering plan).
    public func number(ofPort port: Int) -> String { exchangeConfiguration.number(ofPort: port) }

    /// Rings FXO `port` with an incoming call from a scripted caller, over a line with
    /// `impairments`.
    /// - Parameters:
    ///   - callerNumber: sent as caller ID after the first ring when `sendsCallerID`
    ///     (Bellcore FSK on a US exchange, ETSI V.23 on UK/EU); empty: "unavailable".
    public func placeCall(toPort port: Int, from callerNumber: String = "5550100", callerName: String? = nil,
                          sendsCallerID: Bool = true, caller: Person = Person(),
                          impairments: Impairments = Impairments()) throws {
        try placeCall(toPort: port, from: callerNumber, callerName: callerName, sendsCallerID: sendsCallerID,
                      route: Route(.person(caller), impairments: impairments))
    }

    /// Rings FXO `port` from a fax machine, which calls with CNG once answered and sends
    /// `faxMachine.sendFile` if it has one.
    public func placeFaxCall(toPort port: Int, from callerNumber: String = "5550180", faxMachine: FaxMachine = FaxMachine(),
                             impairments: Impairments = Impairments()) throws {
        try placeCall(toPort: port, from: callerNumber, callerName: nil, sendsCallerID: true,
                      route: Route(.faxMachine(faxMachine), impairments: impairments))
    }

    private func placeCall(toPort port: Int, from callerNumber: String, callerName: String?, sendsCallerID: Bool, route: Route) throws {
        guard port >= 0, port < ports.count, ports[port].kind == .fxo || ports[port].kind == .isdnBearer else {
            throw CardError.device("port \(port) is not an FXO port or a B-channel of \(name)")
        }
        if ports[port].kind == .isdnBearer {
            offers.withLock { $0[port] = OfferedCall(callingNumber: callerNumber, presentationAllowed: sendsCallerID) }
        }
        let runtime = RouteRuntime(number: callerNumber, route: route, seed: 77, calling: true)
        if sendsCallerID {
            let now = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date())
            runtime.callerID = CallerIDGenerator.message(
                exchangeConfiguration.country == .us ? .bellcore : .etsi, number: callerNumber.filter(\.isNumber),
                name: callerName, month: now.month ?? 1, day: now.day ?? 1, hour: now.hour ?? 0, minute: now.minute ?? 0)
        }
        let index = exchange.addCaller(runtime)
        try send(.call(port: Int32(port), route: Int32(index)))
    }

    /// Lifts the handset of the telephone on FXS `port` (saying hello if `greeting`).
    public func liftHandset(port: Int, greeting: Bool = false) throws { try send(.lift(port: try fxs(port), greeting: greeting)) }
    public func hangUpHandset(port: Int) throws { try send(.hangUp(port: try fxs(port))) }
    public func flashHandset(port: Int) throws { try send(.flash(port: try fxs(port))) }

    /// Dials on the telephone's keypad (after lifting it, when on-hook).
    public func dial(port: Int, _ digits: String) throws {
        guard let d = DigitString(digits), digits.allSatisfy({ DTMFGenerator.validDigits.contains($0) }) else {
            throw CardError.device("cannot dial \"\(digits)\": up to 32 of 0-9 A-D * #")
        }
        try send(.dial(port: try fxs(port), d))
    }

    /// The telephone answers by itself after this many rings (0: never).
    public func answerWhenRung(port: Int, afterRings rings: Int) throws {
        try send(.answerAfterRings(port: try fxs(port), Int32(rings)))
    }

    /// Raises or clears an alarm on a port (as a span in alarm would).
    public func setAlarm(port: Int, _ on: Bool) throws {
        guard port >= 0, port < ports.count else { throw CardError.unknownPort(port, portCount: ports.count) }
        try send(.alarm(port: Int32(port), on))
    }

    /// Unplugs the card: every port reports `removed` and goes silent.
    public func removeDevice() throws { try send(.remove) }

    // MARK: The network's side of an ISDN span (LinecardISDN's simulated network)

    /// The next thing a B-channel tells the network (one consumer: the network's thread).
    public func nextNetworkSignal() -> NetworkSignal? { exchange.networkSignals.pop() }

    /// Who offers the call a B-channel reported as `offering`.
    public func offeredCall(port: Int) -> OfferedCall? { offers.withLock { $0[port] } }

    /// The network received a SETUP for `number` on B-channel `port`: the exchange routes it.
    public func networkSeize(port: Int, number: String) throws {
        guard let digits = DigitString(number) else { throw CardError.device("cannot route \"\(number)\": up to 32 ASCII characters") }
        try send(.seize(port: Int32(port), digits))
    }

    /// The terminal answered the call offered on `port`.
    public func networkAnswerOffered(port: Int) throws { try send(.answerOffered(port: Int32(port))) }

    /// The call on `port` is released on the terminal's side.
    public func networkRelease(port: Int) throws { try send(.releaseByNetwork(port: Int32(port))) }

    /// Hands what the far side experienced since the last call to `body`, oldest first.
    public func drainNotes(_ body: (ExchangeNote) -> Void) {
        while let note = exchange.notes.pop() { body(note) }
    }

    private func fxs(_ port: Int) throws -> Int32 {
        guard port >= 0, port < ports.count, ports[port].kind == .fxs else {
            throw CardError.device("port \(port) is not an FXS port of \(name)")
        }
        return Int32(port)
    }

    private func send(_ command: Control) throws {
        guard control.push(command) else { throw CardError.queueFull("simulated card control") }
    }
}

/// A call the simulated network is to offer to a B-channel: who calls.
public struct OfferedCall: Sendable, Equatable {
    public var callingNumber: String
    /// False: the caller withheld their number (presentation restricted).
    public var presentationAllowed: Bool

    public init(callingNumber: String, presentationAllowed: Bool) {
        self.callingNumber = callingNumber
        self.presentationAllowed = presentationAllowed
    }
}
