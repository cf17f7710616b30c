import BridgeClient
import Clocks
import Foundation
import MarketSim
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SierraFormat
import Swarm

/// `bridgelab probe`: what a user runs first while writing a profile. It connects to a running
/// bridge through the profile and prints the first messages with how each was classified, which
/// fields were read and which were not there, then one poll answer and the health route.
public struct ProfileProbe: Sendable {
    public let profile: BridgeProfile
    public let host: String
    public let port: Int
    public let symbol: String
    public let count: Int
    public let seconds: Double

    public init(profile: BridgeProfile, url: String, symbol: String, count: Int = 20, seconds: Double = 10) throws {
        let rest = url.split(separator: "://", maxSplits: 1).last.map(String.init) ?? url
        let authority = rest.split(separator: "/").first.map(String.init) ?? rest
        let parts = authority.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]), (1...65_535).contains(port) else {
            throw RunnerError("--url needs a host and a port, e.g. http://127.0.0.1:8000 (got \(url))")
        }
        let host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
        guard host.hasPrefix("127.") || host == "::1" else {
            throw RunnerError("--url must name a loopback address (127.0.0.0/8, ::1, localhost): bridgelab never targets another host")
        }
        self.profile = profile
        self.host = host
        self.port = port
        self.symbol = symbol
        self.count = count
        self.seconds = seconds
    }

    var values: [String: String] {
        ["host": host, "port": String(port), "symbol": symbol, "symbols": symbol, "channels": "trades,quotes,depth,stats", "token": ""]
    }

    /// Runs the probe, printing as it goes; returns whether every trade was recognised with all
    /// the fields its profile names.
    public func run(print: @escaping @Sendable (String) -> Void) async -> Bool {
        print("profile \(profile.name) (\(profile.file)) against \(host):\(port), symbol \(symbol)")
        var healthy = false
        let health = URLTemplate.fill(profile.health, values)
        do {
            let started = Date()
            let answer = try await HTTPConnection.with(host: host, port: port, connectTimeout: .seconds(3)) {
                try await $0.get(URLTemplate.path(of: health))
            }
            healthy = answer.status == 200
            print(String(format: "health: GET %@ → %d in %.1f ms", health, answer.status, Date().timeIntervalSince(started) * 1000))
        } catch {
            print("health: GET \(health) failed: \(error)")
            return false
        }
        var good = healthy
        if let route = profile.webSocket { good = await probeWebSocket(route, print: print) && good }
        if let poll = profile.poll { good = await probePoll(poll, print: print) && good }
        return good
    }

    /// One line of what was read from a message.
    func describe(_ message: ProfiledMessage) -> String {
        var parts: [String] = []
        if let contract = message.contract { parts.append("contract \(contract)") }
        if let price = message.price { parts.append("price \(Self.number(price))") }
        if let size = message.size { parts.append("size \(Self.number(size))") }
        if let bid = message.bid { parts.append("bid \(Self.number(bid))") }
        if let ask = message.ask { parts.append("ask \(Self.number(ask))") }
        if let seq = message.seq { parts.append("seq \(seq)") }
        if let time = message.time {
            parts.append("time \(time.unixMicroseconds) µs = \(ISOTime.format(time.unixMicroseconds)) (to \(time.resolution) µs)")
        }
        // A quote is a delta (it carries what changed) and a snapshot before the first trade has
        // no last trade: only a trade's missing path is a fault.
        if !message.missing.isEmpty {
            parts.append((message.kind == .trade ? "NOT FOUND: " : "not in this one: ") + message.missing.joined(separator: ", "))
        }
        return parts.isEmpty ? "(no field read)" : parts.joined(separator: " · ")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    func probeWebSocket(_ route: BridgeProfile.WebSocketRoute, print: @escaping @Sendable (String) -> Void) async -> Bool {
        let url = URLTemplate.fill(route.url, values)
        let reader = MessageReader(profile: profile)
        let limit = count
        struct Seen {
            var messages = 0
            var kinds: [ProfiledMessage.Kind: Int] = [:]
            var incomplete = 0
        }
        let seen = NIOLockedValueBox(Seen())
        let done = NIOLockedValueBox<LoopWebSocket.Closer?>(nil)
        let recognizers = [("trade", profile.trade), ("quote", profile.quote), ("snapshot", profile.snapshot)].compactMap { name, r in
            r.map { "\(name): " + $0.match.map { "\($0.path)=\($0.value)" }.joined(separator: ", ") }
        }
        print("websocket: \(url)")
        do {
            try await withDeadline(WallClock.monotonicNanoseconds() + UInt64(seconds * 1e9)) {
                _ = try await LoopWebSocket.connect(
                    host: host,
                    port: port,
                    path: URLTemplate.path(of: url),
                    on: MultiThreadedEventLoopGroup.singleton.next(),
                    connectTimeout: .seconds(3),
                    onOpen: { closer, send in
                        done.withLockedValue { $0 = closer }
                        print("  connected")
                        if let subscribe = route.subscribe {
                            let message = URLTemplate.fill(subscribe, values)
                            print("  sent: \(message)")
                            send(message)
                        }
                    },
                    onText: { buffer in
                        let text = String(buffer: buffer)
                        let shown = text.count > 160 ? String(text.prefix(160)) + "…" : text
                        for message in reader.read(text) {
                            let number = seen.withLockedValue { s -> Int in
                                s.messages += 1
                                s.kinds[message.kind, default: 0] += 1
                                if message.kind == .trade, !message.missing.isEmpty || message.price == nil { s.incomplete += 1 }
                                return s.messages
                            }
                            guard number <= limit else { continue }
                            print("  \(number) \(message.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)) \(shown)")
                            if message.kind == .other {
                                print("      matched no recogniser (\(recognizers.joined(separator: "; ")))")
                            } else {
                                print("      \(describe(message))")
                            }
                            if number == limit { done.withLockedValue { $0 }?.close(code: 1000, reason: "probe done") }
                        }
                    }
                )
            }
        } catch {
            if seen.withLockedValue({ $0.messages }) == 0 { print("  failed: \(error)") }
        }
        let s = seen.withLockedValue { $0 }
        let summary = ProfiledMessage.Kind.allCasesInOrder.map { "\(s.kinds[$0] ?? 0) \($0.rawValue)" }.joined(separator: ", ")
        print("  \(s.messages) updates: \(summary)")
        if s.messages > 0, s.kinds[.trade] == nil {
            print("  no trade recognised in the first \(s.messages) messages: check trade.match")
            return false
        }
        if s.incomplete > 0 {
            print("  \(s.incomplete) trades lack a field the profile names: check the paths marked NOT FOUND")
            return false
        }
        return s.messages > 0
    }

    func probePoll(_ poll: BridgeProfile.PollRoute, print: @escaping @Sendable (String) -> Void) async -> Bool {
        let url = URLTemplate.fill(poll.url, values)
        do {
            let answer = try await HTTPConnection.with(host: host, port: port, connectTimeout: .seconds(3)) {
                try await $0.get(URLTemplate.path(of: url))
            }
            let body = String(buffer: answer.body)
            print("poll: GET \(url) → \(answer.status): \(body.count > 160 ? String(body.prefix(160)) + "…" : body)")
            let read = MessageReader(profile: profile).readPoll(body)
            print("      last trade: \(describe(read))")
            return answer.status == 200 && read.missing.isEmpty && read.price != nil
        } catch {
            print("poll: GET \(url) failed: \(error)")
            return false
        }
    }
}

extension ProfiledMessage.Kind {
    static let allCasesInOrder: [ProfiledMessage.Kind] = [.snapshot, .trade, .quote, .other]
}
