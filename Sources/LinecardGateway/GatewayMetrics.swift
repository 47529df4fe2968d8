import LinecardEngine
import LinecardISDN
import Prometheus

/// The gateway's Prometheus metrics, served at /metrics.
final class GatewayMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let outcomes: [CallAttempt.Outcome: Counter]
    private let accepted: Counter
    private let rejected: Counter
    private let queueDepth: [RequestStatus: Gauge]
    private let lineBusy: [Int: Gauge]
    private let tickMisses: Gauge
    private let droppedEvents: Gauge
    private let databaseUp: Gauge
    private let dChannelUp: [String: Gauge]
    private let dChannelChanges: [String: Gauge]
    private let frameErrors: [String: Gauge]

    init(lines: [Int], spans: [String] = []) {
        let registry = self.registry
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "linecard", metricName: metric, unitName: unit, helpText: help)
        }
        let attempts = name("call_attempts", "total", "Call attempts by how they ended")
        outcomes = Dictionary(uniqueKeysWithValues: [CallAttempt.Outcome.made, .retry, .failed, .interrupted].map {
            ($0, registry.makeCounter(descriptor: attempts, labels: [("outcome", $0.rawValue)]))
        })
        accepted = registry.makeCounter(descriptor: name("requests_accepted", "total", "Call requests accepted (given a ReqId)"))
        rejected = registry.makeCounter(descriptor: name("requests_rejected", "total", "Call requests refused as invalid or not allowed"))
        let depth = name("queue", "requests", "Call requests in the queue by status")
        queueDepth = Dictionary(uniqueKeysWithValues: RequestStatus.allCases.map {
            ($0, registry.makeGauge(descriptor: depth, labels: [("status", $0.rawValue)]))
        })
        let busy = name("line", "busy", "1 while the line is on a call")
        lineBusy = Dictionary(uniqueKeysWithValues: lines.map {
            ($0, registry.makeGauge(descriptor: busy, labels: [("line", String($0))]))
        })
        tickMisses = registry.makeGauge(descriptor: name("engine_tick", "overruns", "Engine ticks that started more than one block late"))
        droppedEvents = registry.makeGauge(descriptor: name("engine_dropped", "events", "Engine events dropped because the queue was full"))
        databaseUp = registry.makeGauge(descriptor: name("queue_database", "up", "1 while the call queue can be read (0: a shared queue's database is lost)"))
        func perSpan(_ descriptor: MetricNameDescriptor) -> [String: Gauge] {
            Dictionary(uniqueKeysWithValues: spans.map { ($0, registry.makeGauge(descriptor: descriptor, labels: [("span", $0)])) })
        }
        dChannelUp = perSpan(name("isdn_dchannel", "up", "1 while the ISDN span's D-channel (Q.921 link) is up"))
        dChannelChanges = perSpan(name("isdn_dchannel_changes", "total", "Times the ISDN span's D-channel went up or down"))
        frameErrors = perSpan(name("isdn_frame_errors", "total", "D-channel frames libpri refused or could not send"))
    }

    func attemptEnded(_ outcome: CallAttempt.Outcome) { outcomes[outcome]?.increment() }
    func requestAccepted() { accepted.increment() }
    func requestRejected() { rejected.increment() }
    func line(_ line: Int, busy: Bool) { lineBusy[line]?.set(to: busy ? 1.0 : 0.0) }

    /// Brings the sampled values up to date, then renders the text exposition format. Without
    /// `counts` (the queue cannot be read) the queue's gauges keep their last values.
    func render(queue counts: [RequestStatus: Int]?, engine: Engine.Statistics, spans: [IsdnSpanStatus] = []) -> String {
        for span in spans {
            dChannelUp[span.name]?.set(to: span.dChannelUp ? 1 : 0)
            dChannelChanges[span.name]?.set(to: Double(span.dChannelChanges))
            frameErrors[span.name]?.set(to: Double(span.frameErrors))
        }
        if let counts {
            for (status, gauge) in queueDepth { gauge.set(to: Double(counts[status] ?? 0)) }
        }
        databaseUp.set(to: counts == nil ? 0 : 1)
        tickMisses.set(to: Double(engine.deadlineMisses))
        droppedEvents.set(to: Double(engine.droppedEvents))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
