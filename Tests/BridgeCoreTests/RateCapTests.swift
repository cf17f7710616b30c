import BridgeWire
import Testing

@testable import BridgeCore

@Suite("Rate cap")
struct RateCapTests {
    @Test("at most one message per interval per contract and channel; held updates go out whole when it ends")
    func capsAndHolds() {
        let cap = RateCap(rate: 4)
        let ms: UInt64 = 1_000_000
        let start: UInt64 = 1_000 * ms
        #expect(cap.interval == 250 * ms)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start) == .send)
        // Inside the interval: held; another contract and another channel are not.
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 10 * ms) == .hold)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 20 * ms) == .hold)
        #expect(cap.admit(contract: "ES", channel: .quotes, now: start + 20 * ms) == .send)
        #expect(cap.admit(contract: "NQ", channel: .depth, now: start + 20 * ms) == .send)
        #expect(cap.isHolding)
        #expect(cap.nextDue == start + 250 * ms)
        #expect(cap.takeDue(now: start + 249 * ms).isEmpty)
        let due = cap.takeDue(now: start + 251 * ms)
        #expect(due.count == 1 && due.first?.contract == "NQ" && due.first?.channel == .quotes)
        #expect(!cap.isHolding && cap.nextDue == nil)
        // The timer's send starts a new interval.
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 300 * ms) == .hold)
        // An update after the interval, with one held: the full state (a delta would miss the held one).
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 502 * ms) == .sendFull)
        #expect(!cap.isHolding)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 800 * ms) == .send)
    }

    @Test("over a burst, the messages a channel sends never exceed the rate", arguments: [1.0, 4.0, 10.0])
    func burst(rate: Double) {
        let cap = RateCap(rate: rate)
        var sent: [UInt64] = []
        let ms: UInt64 = 1_000_000
        // An update every 3 ms for 5 s; the timer fires every millisecond.
        for tick in stride(from: UInt64(0), to: 5_000, by: 1) {
            let now = (tick + 1) * ms
            if tick % 3 == 0, cap.admit(contract: "NQ", channel: .stats, now: now) != .hold { sent.append(now) }
            for _ in cap.takeDue(now: now) { sent.append(now) }
        }
        #expect(Double(sent.count) <= rate * 5 + 1)
        #expect(Double(sent.count) >= rate * 5 - 1)
        for (a, b) in zip(sent, sent.dropFirst()) { #expect(b - a >= cap.interval) }
    }
}
