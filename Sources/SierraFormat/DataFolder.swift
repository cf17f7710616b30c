#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The layout of a Sierra Chart data folder: `SYMBOL.scid` files at the top, and
/// `MarketDepthData/SYMBOL.YYYY-MM-DD.depth` files below.
///
/// Discovery only: which contracts exist, which contract a root currently means, and which depth
/// file is the current day's. Nothing here is hard-coded to particular symbols.
public struct DataFolder: Sendable {
    public var path: String
    public static let depthSubfolder = "MarketDepthData"
    public static let intradayExtension = ".scid"
    public static let depthExtension = ".depth"

    public init(path: String) {
        self.path = path
    }

    public var depthPath: String { path + "/" + Self.depthSubfolder }

    public func intradayPath(contract: String) -> String { path + "/" + contract + Self.intradayExtension }

    public func depthPath(contract: String, date: String) -> String {
        depthPath + "/" + contract + "." + date + Self.depthExtension
    }

    /// One `.scid` file found in the folder.
    public struct IntradayFile: Sendable, Equatable {
        public var contract: ContractSymbol
        public var size: Int
        /// Whole records in the file now.
        public var recordCount: Int { max(0, (size - IntradayFormat.headerSize) / IntradayFormat.recordSize) }
    }

    /// One `.depth` file found in `MarketDepthData/`.
    public struct DepthFile: Sendable, Equatable {
        public var contract: String
        /// `YYYY-MM-DD`.
        public var date: String
        public var fileName: String
    }

    /// The current UTC year: what one-digit contract years (`ESU5`) are read against.
    public static var currentYear: Int {
        CivilDate.fromDaysSinceUnixEpoch(Int(time(nil) / 86_400)).year
    }

    /// The `.scid` files, sorted by root then expiry.
    public func intradayFiles(referenceYear: Int = DataFolder.currentYear) -> [IntradayFile] {
        Self.listDirectory(path).compactMap { entry -> IntradayFile? in
            guard entry.hasSuffix(Self.intradayExtension), entry.count > Self.intradayExtension.count else { return nil }
            let name = String(entry.dropLast(Self.intradayExtension.count))
            var info = stat()
            guard stat(path + "/" + entry, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return IntradayFile(contract: ContractSymbol(name: name, referenceYear: referenceYear), size: Int(info.st_size))
        }.sorted { $0.contract < $1.contract }
    }

    /// The `.depth` files, sorted by contract then date.
    public func depthFiles() -> [DepthFile] {
        Self.listDirectory(depthPath).compactMap(Self.parseDepthFileName).sorted {
            ($0.contract, $0.date) < ($1.contract, $1.date)
        }
    }

    /// Parses `NQZ25-CME.2025-12-01.depth`.
    public static func parseDepthFileName(_ fileName: String) -> DepthFile? {
        guard fileName.hasSuffix(depthExtension) else { return nil }
        let stem = fileName.dropLast(depthExtension.count)
        guard stem.count > 11 else { return nil }
        let dateStart = stem.index(stem.endIndex, offsetBy: -10)
        let date = stem[dateStart...]
        let dot = stem.index(before: dateStart)
        guard stem[dot] == ".", isDate(date) else { return nil }
        return DepthFile(contract: String(stem[..<dot]), date: String(date), fileName: fileName)
    }

    private static func isDate(_ text: Substring) -> Bool {
        let chars = Array(text.utf8)
        guard chars.count == 10, chars[4] == UInt8(ascii: "-"), chars[7] == UInt8(ascii: "-") else { return false }
        return chars.enumerated().allSatisfy { index, c in index == 4 || index == 7 || (c >= 48 && c <= 57) }
    }

    /// For each contract, its newest depth file (the tailer moves to the new day's file).
    public func latestDepthFiles() -> [String: DepthFile] {
        var latest: [String: DepthFile] = [:]
        for file in depthFiles() where (latest[file.contract]?.date ?? "") < file.date {
            latest[file.contract] = file
        }
        return latest
    }

    /// Which contract each root currently means: the latest-expiring contract whose file holds at
    /// least one record. A new contract's file takes over when its first record lands (rollover);
    /// the choice depends only on the folder's contents, so a restarted bridge chooses the same.
    /// A root whose files are all still empty (before the session's first trade) means its
    /// front contract, so clients can subscribe and wait for that trade.
    public static func activeContracts(_ files: [IntradayFile]) -> [String: ContractSymbol] {
        activeContracts(files, contract: \.contract, recordCount: \.recordCount).mapValues(\.contract)
    }

    /// The same rule over anything that has a contract and a record count (the bridge's live
    /// feeds), so a live bridge and a restarted one choose alike.
    public static func activeContracts<Item>(
        _ items: some Sequence<Item>,
        contract: (Item) -> ContractSymbol,
        recordCount: (Item) -> Int
    ) -> [String: Item] {
        var active: [String: Item] = [:]
        var front: [String: Item] = [:]
        for item in items {
            let symbol = contract(item)
            if recordCount(item) > 0 {
                if let current = active[symbol.root], !(contract(current) < symbol) { continue }
                active[symbol.root] = item
            } else if front[symbol.root].map({ symbol < contract($0) }) ?? true {
                front[symbol.root] = item
            }
        }
        return active.merging(front) { chosen, _ in chosen }
    }

    /// Entry names of a directory (empty if it cannot be read).
    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
