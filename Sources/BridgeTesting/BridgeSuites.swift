import Testing

/// All bridge suites run one after another: each starts servers and drives files in real time,
/// and on two cores they would otherwise measure each other.
@Suite(.serialized) public struct BridgeSuites {}
