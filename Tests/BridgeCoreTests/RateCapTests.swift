import BridgeWire
import Testing

@testable import BridgeCore

@Suite("Rate cap")
struct RateCapTests {
    @Test("at most one message per interval per contract and channel; a held update is due when it ends")
    func capsAndHolds() {
        let cap = RateCap(rate: 4)
        let ms: UInt64 = 1_000_000
        let start: UInt64 = 1_000 * ms
        #expect(cap.interval == 250 * ms)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start) == true)
        // Inside the interval: held; another contract and another channel are not.
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 10 * ms) == false)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 20 * ms) == false)
        #expect(cap.admit(contract: "ES", channel: .quotes, now: start + 20 * ms) == true)
        #expect(cap.admit(contract: "NQ", channel: .depth, now: start + 20 * ms) == true)
        #expect(cap.isHolding)
        #expect(cap.nextDue == start + 250 * ms)
        #expect(cap.takeDue(now: start + 249 * ms).isEmpty)
        let due = cap.takeDue(now: start + 251 * ms)
        #expect(due.count == 1 && due.first?.contract == "NQ" && due.first?.channel == .quotes)
        #expect(!cap.isHolding && cap.nextDue == nil)
        // The timer's send starts a new interval.
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 300 * ms) == false)
        // An update after the interval goes out, and takes the held one with it (it is the latest state).
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 552 * ms) == true)
        #expect(!cap.isHolding && cap.takeDue(now: start + 900 * ms).isEmpty)
        #expect(cap.admit(contract: "NQ", channel: .quotes, now: start + 810 * ms) == true)
    }

    @Test("over a burst, the messages a channel sends never exceed the rate", arguments: [1.0, 4.0, 10.0])
    func burst(rate: Double) {
        let cap = RateCap(rate: rate)
        var sent: [UInt64] = []
        let ms: UInt64 = 1_000_000
        // An update every 3 ms for 5 s; the timer fires every millisecond.
        for tick in stride(from: UInt64(0), to: 5_000, by: 1) {
            let now = (tick + 1) * ms
            if tick % 3 == 0, cap.admit(contract: "NQ", channel: .stats, now: now) { sent.append(now) }
            for _ in cap.takeDue(now: now) { sent.append(now) }
        }
        #expect(Double(sent.count) <= rate * 5 + 1)
        #expect(Double(sent.count) >= rate * 5 - 1)
        for (a, b) in zip(sent, sent.dropFirst()) { #expect(b - a >= cap.interval) }
    }
}
