import DequeModule
import NIOConcurrencyHelpers

/// A bounded FIFO between the socket reader and the application. When it is full the reader
/// waits (and so stops reading the socket): nothing is ever dropped silently. A bridge then sees a
/// slow consumer, may cut it off, and the client resumes without loss.
public final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: Deque<Element> = []
        var consumer: CheckedContinuation<Element?, Never>?
        var producers: [CheckedContinuation<Void, Never>] = []
        var finished = false
    }

    public let limit: Int
    private let state = NIOLockedValueBox(State())

    public init(limit: Int) {
        self.limit = max(1, limit)
    }

    public var count: Int { state.withLockedValue { $0.items.count } }

    private enum PushOutcome {
        case handedOver(CheckedContinuation<Element?, Never>)
        case stored
        case mustWait
    }

    /// Adds an element, waiting while the queue is full.
    public func push(_ element: Element) async {
        while true {
            let outcome = state.withLockedValue { s -> PushOutcome in
                if let consumer = s.consumer {
                    s.consumer = nil
                    return .handedOver(consumer)
                }
                if s.finished { return .stored }  // nobody will read it any more
                if s.items.count < limit {
                    s.items.append(element)
                    return .stored
                }
                return .mustWait
            }
            switch outcome {
            case .handedOver(let consumer):
                consumer.resume(returning: element)
                return
            case .stored:
                return
            case .mustWait:
                await withCheckedContinuation { (wait: CheckedContinuation<Void, Never>) in
                    let now = state.withLockedValue { s -> Bool in
                        if s.finished || s.items.count < limit { return true }
                        s.producers.append(wait)
                        return false
                    }
                    if now { wait.resume() }
                }
            }
        }
    }

    /// The next element, waiting for one; nil once finished and drained.
    public func next() async -> Element? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
            let (ready, producer): (Element??, CheckedContinuation<Void, Never>?) = state.withLockedValue { s in
                if let item = s.items.popFirst() {
                    return (.some(item), s.producers.isEmpty ? nil : s.producers.removeFirst())
                }
                if s.finished { return (.some(nil), nil) }
                s.consumer = continuation
                return (nil, nil)
            }
            producer?.resume()
            if let ready { continuation.resume(returning: ready) }
        }
    }

    public func finish() {
        let (consumer, producers) = state.withLockedValue { s -> (CheckedContinuation<Element?, Never>?, [CheckedContinuation<Void, Never>]) in
            s.finished = true
            defer {
                s.consumer = nil
                s.producers = []
            }
            return (s.consumer, s.producers)
        }
        consumer?.resume(returning: nil)
        for producer in producers { producer.resume() }
    }
}
