/// A card's own ports followed by `count` local ports: ports with no line, on which inbound
/// services run and which calls inside the box reach. A local port hears what the port it is
/// patched to (`.patch(to:)`) transmitted; the card never sees it.
public final class LocalPortsBackend: CardBackend {
    public let card: any CardBackend
    public let ports: [PortDescription]
    private let cardPortCount: Int

    public init(card: any CardBackend, count: Int) {
        self.card = card
        cardPortCount = card.ports.count
        ports = card.ports + (0..<max(0, count)).map {
            PortDescription(index: card.ports.count + $0, name: "local/\($0 + 1)", kind: .local, signalling: "local")
        }
    }

    public var name: String { card.name }
    public var clock: CardClock { card.clock }

    public func open(port: Int, blockSize: Int) throws {
        guard port >= 0, port < ports.count else { throw CardError.unknownPort(port, portCount: ports.count) }
        if port < cardPortCount { try card.open(port: port, blockSize: blockSize) }
    }

    public func close(port: Int) {
        if port < cardPortCount { card.close(port: port) }
    }

    public func shutdown() { card.shutdown() }

    public func readBlocks(into samples: UnsafeMutablePointer<Int16>, blockSize: Int) {
        card.readBlocks(into: samples, blockSize: blockSize)
        let local = ports.count - cardPortCount
        if local > 0 { (samples + cardPortCount * blockSize).update(repeating: 0, count: local * blockSize) }
    }

    public func writeBlocks(from samples: UnsafePointer<Int16>, blockSize: Int) {
        // The card reads only its own ports' blocks, which come first.
        card.writeBlocks(from: samples, blockSize: blockSize)
    }

    public func setHook(port: Int, _ command: HookCommand) -> Int32 {
        port < cardPortCount ? card.setHook(port: port, command) : 0
    }

    public func nextLineEvent() -> LineEvent? { card.nextLineEvent() }
}
