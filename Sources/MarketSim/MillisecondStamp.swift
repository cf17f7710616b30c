import SierraFormat

/// Sierra Chart's timestamps for one file: the record's millisecond, plus the 0–999 counter of
/// records that share it (the sub-millisecond digits are that counter, not a clock).
public struct MillisecondStamp: Sendable, Equatable {
    private var lastMillisecond: Int64 = -1
    private var counter: Int64 = 0

    public init() {}

    /// Continues after `time`, the last timestamp already in the file.
    public init(after time: SCDateTime) {
        lastMillisecond = time.microseconds / 1000
        counter = time.microseconds % 1000
    }

    /// The timestamp of the next record, written at `unixMicroseconds`. Never earlier than the
    /// previous one: a record in the same (or an earlier) millisecond takes the next counter value.
    public mutating func stamp(unixMicroseconds: Int64) -> SCDateTime {
        let ms = (unixMicroseconds + SCDateTime.unixEpochOffsetMicroseconds) / 1000
        if ms <= lastMillisecond {
            counter = min(999, counter + 1)
        } else {
            lastMillisecond = ms
            counter = 0
        }
        return SCDateTime(microseconds: lastMillisecond * 1000 + counter)
    }
}
