import LinecardDSP
import LinecardEngine
import Synchronization

/// The model telephone network behind the simulated card's ports: shared state, timing in
/// samples, routes, and the queues through which lines report to the card.
final class Exchange {
    let configuration: ExchangeConfiguration
    let plan: TonePlan
    var now: Int64 = 0

    // Timing in samples.
    let interdigitTimeout: Int64
    let dialToneTimeout: Int64
    let pulseBreakMaximum: Int64
    let flashMaximum: Int64
    let interPulseGap: Int64
    let ringingTimeout: Int64
    let clearToneDelay: Int64
    let ringbackCycle: Int64
    let ringbackSilence: Int64
    let ringCadence: [Int64]

    // Tones.
    let silence: ToneDescriptor
    let tones: [CallProgressTone: ToneDescriptor]
    let specialInformation: [(ToneDescriptor, Int64)]
    let specialInformationPause: Int64 = 2000 * 8

    let routes: [RouteRuntime]
    /// The routes' numbers as plain memory, for matching in the tick without iterators.
    private let routeTable: UnsafeMutableBufferPointer<Unmanaged<RouteRuntime>>
    let portPath: ImpairmentPath

    /// Line signals for the engine, and notes for observers.
    let lineEvents = SPSCQueue<LineEvent>(capacity: 1024)
    /// What B-channels report to the network's call control (ISDN spans only).
    let networkSignals = SPSCQueue<NetworkSignal>(capacity: 1024)
    let notes = SPSCQueue<ExchangeNote>(capacity: 8192)

    var lines: [ExchangeLine?] = []
    /// What each FXO port sent last tick, port-major, 160 samples a port: one dense block.
    let lastTransmit: UnsafeMutablePointer<Int16>
    /// Each line's echo history, `DelayLine.capacity` samples a port.
    let histories: UnsafeMutablePointer<Int16>

    // Scripted callers, published to the tick through fixed slots.
    private static let callerCapacity = 64
    private let callerSlots: UnsafeMutablePointer<Unmanaged<RouteRuntime>?> = {
        let p = UnsafeMutablePointer<Unmanaged<RouteRuntime>?>.allocate(capacity: 64)
        p.initialize(repeating: nil, count: 64)
        return p
    }()
    private let callerStore = Mutex<(next: Int, keep: [RouteRuntime?])>((0, Array(repeating: nil, count: 64)))

    /// Outside the tick: stores a caller and returns its slot for a control command.
    func addCaller(_ caller: RouteRuntime) -> Int {
        callerStore.withLock { store in
            let slot = store.next % Self.callerCapacity
            store.keep[slot] = caller
            callerSlots[slot] = Unmanaged.passUnretained(caller)
            store.next += 1
            return slot
        }
    }

    /// In the tick.
    func caller(at slot: Int) -> RouteRuntime? {
        guard slot >= 0, slot < Self.callerCapacity else { return nil }
        return callerSlots[slot]?.takeUnretainedValue()
    }
    var telephones: [Telephone?] = []

    init(configuration: ExchangeConfiguration, portCount: Int) {
        self.configuration = configuration
        lastTransmit = .allocate(capacity: max(1, portCount) * 160)
        lastTransmit.initialize(repeating: 0, count: max(1, portCount) * 160)
        histories = .allocate(capacity: max(1, portCount) * DelayLine.capacity)
        plan = TonePlan.for(configuration.country)
        interdigitTimeout = Int64(configuration.interdigitTimeoutMilliseconds * 8)
        dialToneTimeout = Int64(configuration.dialToneTimeoutMilliseconds * 8)
        pulseBreakMaximum = Int64(configuration.pulseBreakMaximumMilliseconds * 8)
        flashMaximum = Int64(configuration.flashMaximumMilliseconds * 8)
        interPulseGap = Int64(configuration.interPulseDigitGapMilliseconds * 8)
        ringingTimeout = Int64(configuration.ringingTimeoutMilliseconds * 8)
        clearToneDelay = Int64(configuration.clearToneDelayMilliseconds * 8)
        let rb = plan.tones[.ringback]!.cadenceMilliseconds
        ringbackCycle = Int64((rb.0 + rb.1 + rb.2 + rb.3) * 8)
        ringbackSilence = Int64((rb.2 == 0 ? rb.1 : rb.3) * 8)
        ringCadence = plan.ringCadence.map { Int64($0 * 8) }
        silence = ToneDescriptor(.continuous(0, level: -99))
        var t: [CallProgressTone: ToneDescriptor] = [:]
        for (tone, spec) in plan.tones { t[tone] = ToneDescriptor(spec) }
        tones = t
        specialInformation = TonePlan.specialInformationSteps.map {
            (ToneDescriptor(.continuous($0.frequency, level: TonePlan.specialInformationLevel)), Int64($0.milliseconds * 8))
        }
        var seed: Int32 = 1
        routes = configuration.routes.sorted { $0.key < $1.key }.map { number, route in
            seed += 1
            return RouteRuntime(number: number, route: route, seed: seed)
        }
        portPath = ImpairmentPath(configuration.portImpairments, seed: 99)
        routeTable = .allocate(capacity: routes.count)
        for (i, route) in routes.enumerated() { routeTable[i] = Unmanaged.passUnretained(route) }
    }

    deinit {
        routeTable.deallocate()
        lastTransmit.deallocate()
        histories.deallocate()
    }

    @inline(__always)
    func post(_ port: Int, _ kind: LineEvent.Kind, value: Int32 = 0) {
        lineEvents.push(LineEvent(port: Int32(port), kind: kind, value: value))
    }

    @inline(__always)
    func signal(_ port: Int, _ kind: NetworkSignal.Kind, cause: Int32 = 0) {
        networkSignals.push(NetworkSignal(port: Int32(port), kind: kind, cause: cause))
    }

    @inline(__always)
    func note(_ port: Int, _ kind: ExchangeNote.Kind) {
        notes.push(ExchangeNote(lineTime: now, port: Int32(port), kind: kind))
    }

    enum Match { case route(RouteRuntime), port(Int), incomplete, unknown }

    /// Matches dialled digits against the plan without allocating (index loops only: a
    /// debug build's generic iterators allocate).
    func match(_ digits: UnsafePointer<UInt8>, count: Int, final: Bool) -> Match {
        var exact: Match?
        var longer = false
        var r = 0
        while r < routeTable.count {
            let route = routeTable[r].takeUnretainedValue()
            r += 1
            let number = route.numberDigits
            guard number.count >= count else { continue }
            var prefix = true
            var i = 0
            while i < count {
                if number[i] != digits[i] { prefix = false; break }
                i += 1
            }
            guard prefix else { continue }
            if number.count == count { exact = .route(route) } else { longer = true }
        }
        // Port numbers: portNumberBase + index, in decimal.
        var value = 0
        var allDigits = true
        var i = 0
        while i < count {
            let d = Int(digits[i]) - 48
            if d < 0 || d > 9 { allDigits = false; break }
            value = value * 10 + d
            i += 1
        }
        if allDigits {
            let base = configuration.portNumberBase
            let width = decimalWidth(base + lines.count - 1)
            if count == width, value >= base, value < base + lines.count {
                exact = .port(value - base)
            } else if count < width {
                var low = value, high = value
                var k = count
                while k < width { low *= 10; high = high * 10 + 9; k += 1 }
                if high >= base, low < base + lines.count { longer = true }
            }
        }
        if let exact, !longer || final { return exact }
        if longer && !final { return .incomplete }
        return .unknown
    }

    private func decimalWidth(_ n: Int) -> Int {
        var w = 1
        var v = n
        while v >= 10 { v /= 10; w += 1 }
        return w
    }
}
