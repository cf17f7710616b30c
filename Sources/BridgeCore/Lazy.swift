/// A value computed at most once, on first use (full messages for conflation are rarely needed).
final class Lazy<Value>: @unchecked Sendable {
    private var value: Value?
    private let make: () -> Value

    init(_ make: @escaping () -> Value) {
        self.make = make
    }

    func get() -> Value {
        if let value { return value }
        let made = make()
        value = made
        return made
    }
}
