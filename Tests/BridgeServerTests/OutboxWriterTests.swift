import BridgeCore
import BridgeTesting
import BridgeWire
import CoreMetrics
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing

/// Counts flushes that pass it on their way to the socket.
final class FlushCounter: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    var flushes = 0

    func flush(context: ChannelHandlerContext) {
        flushes += 1
        context.flush()
    }
}

/// On its first flush, queues one more message and reports the channel writable, as a socket
/// that drains during a flush does: the writer is called back in the middle of its own drain.
final class ReentrantFlush: ChannelOutboundHandler, @unchecked Sendable {
    typealias OutboundIn = ByteBuffer
    let onFirstFlush: () -> Void
    var flushed = false

    init(_ onFirstFlush: @escaping () -> Void) { self.onFirstFlush = onFirstFlush }

    func flush(context: ChannelHandlerContext) {
        context.flush()
        guard !flushed else { return }
        flushed = true
        onFirstFlush()
        context.fireChannelWritabilityChanged()
    }
}

extension BridgeSuites {
    @Suite("Event-loop writer: frames built once, one flush per drain, backlog kept while the socket is full")
    struct OutboxWriterTests {
        let metrics = BridgeMetrics(factory: NOOPMetricsHandler.instance)

        func message(_ type: String, seq: Int) -> OutboundMessage {
            OutboundMessage(json: Array("{\"type\":\"\(type)\",\"seq\":\(seq)}".utf8), event: type, contract: "NQZ25-CME", epoch: "e", seq: seq)
        }

        /// A client's outbox and writer on an embedded channel, behind a flush counter.
        func client(
            _ loop: EmbeddedEventLoop,
            queue: EventLoopDrainQueue,
            batching: Bool = false
        ) throws -> (
            EmbeddedChannel, ClientOutbox, WebSocketOutboxWriter, FlushCounter
        ) {
            let channel = EmbeddedChannel(loop: loop)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
            let counter = FlushCounter()
            let outbox = ClientOutbox(id: 1, maxBacklog: 100)
            let writer = WebSocketOutboxWriter(outbox: outbox, queue: queue, batching: batching)
            try channel.pipeline.syncOperations.addHandler(counter)
            try channel.pipeline.syncOperations.addHandler(writer)
            outbox.attach(writer)
            return (channel, outbox, writer, counter)
        }

        /// Frames written to the channel, decoded.
        func frames(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
            var frames: [ByteBuffer] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { frames.append(buffer) }
            return frames
        }

        func decode(_ frame: ByteBuffer) -> (opcode: UInt8, text: String)? {
            var frame = frame
            guard let first = frame.readInteger(as: UInt8.self), let second = frame.readInteger(as: UInt8.self) else { return nil }
            var length = Int(second & 0x7F)
            if length == 126 { length = Int(frame.readInteger(as: UInt16.self) ?? 0) }
            if length == 127 { length = Int(frame.readInteger(as: UInt64.self) ?? 0) }
            guard second & 0x80 == 0, let text = frame.readString(length: length), frame.readableBytes == 0 else { return nil }
            return (first, text)
        }

        @Test("every client gets the same frame bytes, one final unmasked text frame per message, one flush per drain")
        func sharedFramesOneFlush() throws {
            let loop = EmbeddedEventLoop()
            let queue = EventLoopDrainQueue(eventLoop: loop, metrics: metrics)
            let (a, outboxA, _, counterA) = try client(loop, queue: queue)
            let (b, outboxB, _, counterB) = try client(loop, queue: queue)
            for seq in 0..<3 {
                let update = message("trade", seq: seq)
                outboxA.enqueue(update, channel: .trades)
                outboxB.enqueue(update, channel: .trades)
            }
            // Nothing is written until the loop runs its one task for both clients.
            #expect(try frames(a).isEmpty)
            loop.run()
            let framesA = try frames(a)
            let framesB = try frames(b)
            #expect(framesA.map { decode($0)?.text } == (0..<3).map { "{\"type\":\"trade\",\"seq\":\($0)}" })
            #expect(framesA.allSatisfy { decode($0)?.opcode == 0x81 })
            #expect(counterA.flushes == 1 && counterB.flushes == 1)
            for (x, y) in zip(framesA, framesB) {
                x.withUnsafeReadableBytes { px in y.withUnsafeReadableBytes { py in #expect(px.baseAddress == py.baseAddress) } }
            }
            _ = try a.finish()
            _ = try b.finish()
        }

        @Test("a long message gets the 16-bit length form of the header")
        func longFrame() throws {
            let loop = EmbeddedEventLoop()
            let (channel, outbox, _, _) = try client(loop, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics))
            let text = "{\"pad\":\"" + String(repeating: "x", count: 300) + "\"}"
            outbox.enqueue(OutboundMessage(json: Array(text.utf8), event: "x"), channel: nil)
            loop.run()
            let written = try frames(channel)
            #expect(written.count == 1 && decode(written[0])?.text == text)
            #expect(written[0].getInteger(at: written[0].readerIndex + 1, as: UInt8.self) == 126)
            _ = try channel.finish()
        }

        @Test("while the socket is not writable the backlog stays in the outbox, where state channels conflate")
        func notWritable() throws {
            let loop = EmbeddedEventLoop()
            let (channel, outbox, _, counter) = try client(loop, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics))
            channel.isWritable = false
            outbox.enqueue(message("trade", seq: 1), channel: .trades)
            outbox.enqueue(message("quote", seq: 2), channel: .quotes) { self.message("quote-full", seq: 2) }
            outbox.enqueue(message("quote", seq: 3), channel: .quotes) { self.message("quote-full", seq: 3) }
            loop.run()
            #expect(try frames(channel).isEmpty)
            #expect(outbox.backlog == 2)
            #expect(outbox.conflatedCount == 1)
            channel.isWritable = true
            channel.pipeline.fireChannelWritabilityChanged()
            let texts = try frames(channel).map { decode($0)?.text }
            #expect(texts == ["{\"type\":\"trade\",\"seq\":1}", "{\"type\":\"quote-full\",\"seq\":3}"])
            #expect(counter.flushes == 1)
            _ = try channel.finish()
        }

        @Test("called back by a flush in the middle of a drain, it writes what is new once, and nothing twice")
        func reentrantDrain() throws {
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(loop: loop)
            try channel.connect(to: .init(ipAddress: "127.0.0.1", port: 1)).wait()
            let outbox = ClientOutbox(id: 1, maxBacklog: 100)
            let writer = WebSocketOutboxWriter(outbox: outbox, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics), batching: false)
            try channel.pipeline.syncOperations.addHandler(ReentrantFlush { outbox.enqueue(self.message("trade", seq: 2), channel: .trades) })
            try channel.pipeline.syncOperations.addHandler(writer)
            outbox.attach(writer)
            outbox.enqueue(message("trade", seq: 1), channel: .trades)
            loop.run()
            let texts = try frames(channel).map { decode($0)?.text }
            #expect(texts == ["{\"type\":\"trade\",\"seq\":1}", "{\"type\":\"trade\",\"seq\":2}"])
            _ = try channel.finish()
        }

        @Test("one heartbeat per loop period, the same bytes for every client on the loop; none for a client that left")
        func loopHeartbeat() throws {
            let loop = EmbeddedEventLoop()
            let queue = EventLoopDrainQueue(eventLoop: loop, metrics: metrics, heartbeat: .seconds(15))
            let (a, _, _, _) = try client(loop, queue: queue)
            let (b, _, _, _) = try client(loop, queue: queue)
            let (c, _, _, _) = try client(loop, queue: queue)
            try c.close().wait()
            loop.advanceTime(by: .seconds(14))
            #expect(try frames(a).isEmpty)
            loop.advanceTime(by: .seconds(1))
            let framesA = try frames(a)
            let framesB = try frames(b)
            #expect(framesA.count == 1 && framesB.count == 1)
            #expect(decode(framesA[0])?.text.hasPrefix("{\"type\":\"heartbeat\"") == true)
            framesA[0].withUnsafeReadableBytes { pa in framesB[0].withUnsafeReadableBytes { pb in #expect(pa.baseAddress == pb.baseAddress) } }
            #expect(try c.readOutbound(as: ByteBuffer.self) == nil)
            loop.advanceTime(by: .seconds(15))
            #expect(try frames(a).count == 1)
            _ = try a.finish()
            _ = try b.finish()
        }

        @Test("a close ends the writer after everything queued before it; nothing after it is written")
        func closeEnds() async throws {
            let loop = EmbeddedEventLoop()
            let (channel, outbox, writer, _) = try client(loop, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics))
            outbox.enqueue(message("trade", seq: 1), channel: .trades)
            outbox.close(code: CloseCode.goingAway, reason: "bye")
            outbox.enqueue(message("trade", seq: 2), channel: .trades)
            loop.run()
            #expect(try frames(channel).map { decode($0)?.text } == ["{\"type\":\"trade\",\"seq\":1}"])
            #expect(await writer.ended() == .close(code: CloseCode.goingAway, reason: "bye"))
            _ = try channel.finish()
        }

        @Test("a connection that goes away ends the writer")
        func connectionGone() async throws {
            let loop = EmbeddedEventLoop()
            let (channel, _, writer, _) = try client(loop, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics))
            try channel.close().wait()
            #expect(await writer.ended() == .connectionClosed)
        }

        @Test("with batches asked for, queued messages share one newline-separated frame")
        func batches() throws {
            let loop = EmbeddedEventLoop()
            let (channel, outbox, _, _) = try client(loop, queue: EventLoopDrainQueue(eventLoop: loop, metrics: metrics), batching: true)
            for seq in 0..<3 { outbox.enqueue(message("trade", seq: seq), channel: .trades) }
            loop.run()
            let written = try frames(channel)
            #expect(written.count == 1)
            #expect(decode(written[0])?.text == (0..<3).map { "{\"type\":\"trade\",\"seq\":\($0)}" }.joined(separator: "\n"))
            _ = try channel.finish()
        }
    }
}
