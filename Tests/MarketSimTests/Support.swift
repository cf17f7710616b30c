import Foundation

/// 2025-12-01 14:30:00 UTC: fixed so that runs are byte-identical and contract names known.
let fixedStart: Int64 = 1_764_599_400_000_000
