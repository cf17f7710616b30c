/// A contract name as Sierra Chart's data services spell it, split into its parts.
///
/// `NQZ25-CME` (Sierra's own feed), `ESU5.CME` (Rithmic) and `ESU22_FUT_CME` (others) all parse to
/// root, month code, year and exchange. Names that carry no month and year (a stock, a continuous
/// contract) parse with the whole name as root and no expiry.
public struct ContractSymbol: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The name exactly as in the file name, without extension: what clients ask for.
    public var name: String
    /// The product root, e.g. `NQ`.
    public var root: String
    /// The futures month code (F G H J K M N Q U V X Z), if any.
    public var monthCode: Character?
    /// The four-digit expiry year, if any.
    public var year: Int?
    /// What follows the expiry, e.g. `CME`.
    public var exchange: String?

    public static let monthCodes: [Character] = ["F", "G", "H", "J", "K", "M", "N", "Q", "U", "V", "X", "Z"]

    /// Parses a contract name. `referenceYear` resolves one-digit years (`ESU5`) to the nearest
    /// decade that is not more than two years in the past.
    public init(name: String, referenceYear: Int = 2025) {
        self.name = name
        let separators: Set<Character> = ["-", ".", "_"]
        let baseEnd = name.firstIndex(where: { separators.contains($0) }) ?? name.endIndex
        let base = name[name.startIndex..<baseEnd]
        let rest = baseEnd < name.endIndex ? String(name[name.index(after: baseEnd)...]) : nil
        self.exchange = rest.map { $0.split(separator: "_").last.map(String.init) ?? $0 }

        let digits = base.reversed().prefix(while: \.isASCII).prefix(while: \.isNumber)
        if (1...2).contains(digits.count), base.count > digits.count + 1 {
            let monthIndex = base.index(base.endIndex, offsetBy: -(digits.count + 1))
            let month = base[monthIndex]
            let root = base[base.startIndex..<monthIndex]
            if Self.monthCodes.contains(month), !root.isEmpty, let value = Int(String(digits.reversed())) {
                self.root = String(root)
                self.monthCode = month
                if digits.count == 2 {
                    self.year = 2000 + value
                } else {
                    var year = referenceYear - referenceYear % 10 + value
                    if year < referenceYear - 2 { year += 10 }
                    self.year = year
                }
                return
            }
        }
        self.root = String(base)
        self.monthCode = nil
        self.year = nil
    }

    /// Month number 1–12 of the expiry, if any.
    public var month: Int? {
        monthCode.flatMap { code in Self.monthCodes.firstIndex(of: code).map { $0 + 1 } }
    }

    /// A sortable expiry key (year × 12 + month), nil without an expiry.
    public var expiryKey: Int? {
        guard let year, let month else { return nil }
        return year * 12 + month
    }

    public var description: String { name }

    /// Orders by root, then expiry (contracts without one first), then name.
    public static func < (lhs: ContractSymbol, rhs: ContractSymbol) -> Bool {
        if lhs.root != rhs.root { return lhs.root < rhs.root }
        let l = lhs.expiryKey ?? Int.min
        let r = rhs.expiryKey ?? Int.min
        if l != r { return l < r }
        return lhs.name < rhs.name
    }
}
