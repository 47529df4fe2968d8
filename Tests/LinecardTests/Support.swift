import Linecard
import LinecardEngine
import SimulatedCard
import XCTest

/// A card on the simulated exchange, running in virtual time.
struct Bench {
    let card: Card
    let sim: SimulatedCard

    init(exchange: ExchangeConfiguration = ExchangeConfiguration(), channels: ChannelConfiguration = ChannelConfiguration(),
         blockSize: Int = 160, ringCapacity: Int = 16_384) throws {
        sim = SimulatedCard(exchange: exchange)
        card = try Card(backend: sim, engine: EngineConfiguration(blockSize: blockSize, clock: .virtual, ringCapacity: ringCapacity),
                        channels: channels)
    }

    func channel(_ port: Int) -> CallChannel { card.channels[port] }

    /// Far-side notes so far.
    func notes() -> [ExchangeNote] {
        var all: [ExchangeNote] = []
        sim.drainNotes { all.append($0) }
        return all
    }

    /// Lets `seconds` of line time pass.
    func pass(_ seconds: Double, on port: Int = 0) async {
        _ = await channel(port).wait(seconds: seconds)
    }
}

extension CallChannel {
    /// Waits for line time to pass (tests only).
    func wait(seconds: Double) async -> Bool {
        await waitForIdleOrTime(seconds)
    }
}

func heard(_ notes: [ExchangeNote], port: Int) -> String {
    String(notes.compactMap { n -> Character? in
        guard Int(n.port) == port else { return nil }
        switch n.kind {
        case .farEndHeard(let d), .telephoneHeard(let d): return Character(Unicode.Scalar(d))
        default: return nil
        }
    })
}

func seconds(_ samples: Int64?) -> Double { Double(samples ?? -1) / 8000 }
