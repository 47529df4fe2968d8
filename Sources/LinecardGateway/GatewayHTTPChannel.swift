import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization

/// The gateway's HTTP/1.1 connections: Hummingbird's HTTP/1 pipeline with a
/// `ConnectionDiscipline` in front of the request handling, so that no client can hold the
/// server's descriptors or keep a connection it should not.
struct GatewayHTTPChannel: HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    /// Open connections, counted across the server.
    final class Connections: Sendable {
        private let count = Atomic<Int>(0)
        /// Counts a new connection; returns how many are open with it.
        func opened() -> Int { count.add(1, ordering: .relaxed).newValue }
        func closed() { count.subtract(1, ordering: .relaxed) }
        var open: Int { count.load(ordering: .relaxed) }
    }

    let responder: HTTPChannelHandler.Responder
    let connections: Connections
    let limits: GatewayConfiguration.Limits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let overflow = connections.opened() > limits.maxConnections
            channel.closeFuture.whenComplete { [connections] _ in connections.closed() }
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false)
            try channel.pipeline.syncOperations.addHandler(ConnectionDiscipline(
                overflow: overflow, headerTimeout: .milliseconds(Int64(limits.headerTimeoutSeconds * 1000)),
                bodyTimeout: .milliseconds(Int64(limits.bodyTimeoutSeconds * 1000))))
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: value, logger: logger)
    }
}

/// The rules every connection keeps, seen at the HTTP/1 level where the protocol version is
/// still known:
/// - a request head must arrive complete within the header timeout of the connection opening
///   or of the previous response (an idle or trickling client is closed), its body within the
///   body timeout;
/// - a response marked `Connection: close`, or one to a client that did not ask to keep the
///   connection (HTTP/1.0 without keep-alive), closes the connection once it is written;
/// - on a connection beyond the cap, every request but `/health` is answered 503 here, and the
///   connection closed.
final class ConnectionDiscipline: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let overflow: Bool
    private let headerTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    private var timer: Scheduled<Void>?
    private var keepAlive = true
    private var closeAfterResponse = false
    /// The request being answered here (overflow): its parts go no further.
    private var refusing = false

    init(overflow: Bool, headerTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.overflow = overflow
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(headerTimeout, context: context) }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            arm(bodyTimeout, context: context)
            keepAlive = head.isKeepAlive
            refusing = overflow && !(head.uri == "/health" || head.uri.hasPrefix("/health?"))
            // An overflow connection is served one /health at most, then closed.
            if overflow { closeAfterResponse = true }
        case .body:
            break
        case .end:
            timer?.cancel()
            timer = nil
            if refusing {
                refuse(context: context)
                return
            }
        }
        if !refusing { context.fireChannelRead(data) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head):
            if !keepAlive || head.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) {
                closeAfterResponse = true
                head.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            if closeAfterResponse {
                written.futureResult.whenComplete { _ in context.close(promise: nil) }
            } else {
                arm(headerTimeout, context: context)
            }
        }
    }

    private func refuse(context: ChannelHandlerContext) {
        let body = "ERROR: the gateway is serving as many connections as it takes (limits.maxConnections); try again shortly\n"
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .serviceUnavailable, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private func arm(_ timeout: TimeAmount, context: ChannelHandlerContext) {
        timer?.cancel()
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) { loopContext.value.close(promise: nil) }
    }
}
