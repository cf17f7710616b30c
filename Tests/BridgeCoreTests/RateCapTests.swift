import BridgeWire
import Testing

@testable import BridgeCore

@Suite("Rate cap")
struct RateCapTests {
    @Test("updates are held for the next tick of a shared clock; caps of one rate tick together")
    func ticks() {
        let ms: UInt64 = 1_000_000
        let cap = RateCap(rate: 4)
        let other = RateCap(rate: 4)
        #expect(cap.interval == 250 * ms)
        #expect(!cap.isHolding && cap.nextDue == nil)
        cap.hold(contract: "NQ", channel: .quotes, now: 1_010 * ms)
        cap.hold(contract: "NQ", channel: .quotes, now: 1_020 * ms)
        cap.hold(contract: "NQ", channel: .depth, now: 1_100 * ms)
        other.hold(contract: "NQ", channel: .quotes, now: 1_240 * ms)
        // The next multiple of 250 ms, whoever held and when.
        #expect(cap.nextDue == 1_250 * ms && other.nextDue == 1_250 * ms)
        #expect(cap.takeDue(now: 1_249 * ms).isEmpty)
        let due = cap.takeDue(now: 1_250 * ms)
        // Two quotes and a depth held: one latest state of each channel.
        #expect(due.count == 2 && Set(due.map(\.channel)) == [.quotes, .depth] && due.allSatisfy { $0.contract == "NQ" })
        #expect(!cap.isHolding && cap.takeDue(now: 2_000 * ms).isEmpty)
        // Held on a tick: due at the next one.
        cap.hold(contract: "ES", channel: .stats, now: 1_250 * ms)
        #expect(cap.nextDue == 1_500 * ms)
        cap.forget("ES")
        #expect(!cap.isHolding)
    }

    @Test("over a burst, a channel sends at most N a second, 1/N s apart, none held longer than 1/N s", arguments: [1.0, 4.0, 10.0])
    func burst(rate: Double) {
        let cap = RateCap(rate: rate)
        let ms: UInt64 = 1_000_000
        var sent: [UInt64] = []
        var waiting: UInt64?
        var longest: UInt64 = 0
        // An update every 3 ms for 5 s; the timer fires every millisecond.
        for tick in stride(from: UInt64(1), through: 5_000, by: 1) {
            let now = tick * ms
            if tick % 3 == 0 {
                cap.hold(contract: "NQ", channel: .stats, now: now)
                waiting = waiting ?? now
            }
            for _ in cap.takeDue(now: now) {
                sent.append(now)
                longest = max(longest, now - (waiting ?? now))
                waiting = nil
            }
        }
        #expect(Double(sent.count) <= rate * 5 + 1 && Double(sent.count) >= rate * 5 - 1)
        for (a, b) in zip(sent, sent.dropFirst()) { #expect(b - a >= cap.interval) }
        #expect(longest <= cap.interval)
    }
}
