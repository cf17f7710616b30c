extension ServerMessages {
    // MARK: - Control messages

    /// `batch`: whether this connection's frames may carry several newline-separated messages
    /// (only when the client asked, with `?batch=1`); otherwise one JSON message per frame.
    public static func hello(heartbeatSeconds: Double, contracts: [String], roots: [String: String], batch: Bool = false) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.hello.name)
        w.key("protocol")
        w.int(protocolVersion)
        w.key("server")
        w.string("bridgelab-bridge")
        w.key("heartbeat_s")
        w.double(heartbeatSeconds)
        w.key("batch")
        w.bool(batch)
        w.key("contracts")
        w.beginArray()
        for contract in contracts { w.string(contract) }
        w.endArray()
        w.key("roots")
        rootsObject(&w, roots)
        w.endObject()
        return w.bytes
    }

    private static func rootsObject(_ w: inout JSONWriter, _ roots: [String: String]) {
        w.beginObject()
        for (root, contract) in roots.sorted(by: { $0.key < $1.key }) {
            w.key(root)
            w.string(contract)
        }
        w.endObject()
    }

    /// Acknowledges a subscribe or unsubscribe; `resolved` maps each requested symbol to its contract.
    public static func subscription(_ type: MessageType, id: String?, resolved: [String: String], channels: [MarketChannel]) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(type.name)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.key("symbols")
        rootsObject(&w, resolved)
        w.key("channels")
        w.beginArray()
        for channel in channels { w.string(channel.rawValue) }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    public static func error(code: ErrorCode, message: String, id: String? = nil) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.error.name)
        w.key("code")
        w.string(code.rawValue)
        w.key("message")
        w.string(message)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.endObject()
        return w.bytes
    }

    public static func simple(_ type: MessageType, t: Int64, id: String? = nil) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(type.name)
        w.key("t")
        w.int(t)
        if let id {
            w.key("id")
            w.string(id)
        }
        w.endObject()
        return w.bytes
    }

    public static func rollover(root: String, from: String?, to: String) -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.key("type")
        w.string(MessageType.rollover.name)
        w.key("root")
        w.string(root)
        w.key("from")
        if let from { w.string(from) } else { w.null() }
        w.key("to")
        w.string(to)
        w.endObject()
        return w.bytes
    }

    /// The file was rewritten: state restarts under a new epoch; a snapshot follows.
    public static func reset(_ source: Source, reason: String) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .reset, source)
        w.key("reason")
        w.string(reason)
        w.endObject()
        return w.bytes
    }

    /// A resume succeeded: trades with seq in `from...to` were replayed (none when from > to).
    /// For a bar channel (`channel` set) `replayed` counts the bars that closed after `from - 1`.
    public static func resumed(_ source: Source, from: Int, to: Int, replayed: Int, origin: String, channel: MarketChannel? = nil) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .resumed, source)
        if let channel {
            w.key("channel")
            w.string(channel.rawValue)
        }
        w.key("from")
        w.int(from)
        w.key("to")
        w.int(to)
        w.key("replayed")
        w.int(replayed)
        w.key("source")
        w.string(origin)
        w.endObject()
        return w.bytes
    }

    /// A resume could not be honoured; a fresh snapshot follows.
    public static func notRecovered(
        _ source: Source,
        reason: String,
        requestedEpoch: String,
        requestedSeq: Int,
        channel: MarketChannel? = nil
    ) -> [UInt8] {
        var w = JSONWriter()
        header(&w, .notRecovered, source)
        if let channel {
            w.key("channel")
            w.string(channel.rawValue)
        }
        w.key("reason")
        w.string(reason)
        w.key("requested_epoch")
        w.string(requestedEpoch)
        w.key("requested_seq")
        w.int(requestedSeq)
        w.endObject()
        return w.bytes
    }
}
