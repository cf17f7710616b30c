import Foundation

/// A line chart as a self-contained SVG string: series of (x, y) points, optional log axes, and
/// vertical markers (faults, events, crashes) on the x axis. Small on purpose: axes, ticks,
/// polylines, a legend.
public struct SVGChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var dashed = false
        public init(name: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name
            self.points = points
            self.dashed = dashed
        }
    }

    public struct Marker: Sendable {
        public var x: Double
        public var label: String
        public var color: String
        public init(x: Double, label: String, color: String) {
            self.x = x
            self.label = label
            self.color = color
        }
    }

    /// How the x axis is drawn: linear, or HdrHistogram's percentile axis (log of 1/(1−p)).
    public enum XAxis: Sendable {
        case linear
        case percentile
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var markers: [Marker] = []
    /// Horizontal reference lines (a limit), on the y axis; `Marker.x` holds the y value.
    public var levels: [Marker] = []
    public var xAxis = XAxis.linear
    public var logY = false
    public var width = 1000.0
    public var height = 300.0

    public static let palette = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    static let left = 64.0, right = 16.0, top = 46.0, bottom = 46.0

    /// x in axis space: percentiles become log10(1 / (1 − p)), capped at 99.9999 %.
    func xValue(_ x: Double) -> Double {
        switch xAxis {
        case .linear: return x
        case .percentile: return log10(1 / max(1e-6, 1 - min(x, 99.9999) / 100))
        }
    }

    func yValue(_ y: Double) -> Double { logY ? log10(max(y, 1e-3)) : y }

    public func render() -> String {
        // A log axis has no place for zero: such points are left out, not drawn at an invented floor.
        let plotted = series.map { s in
            s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }.map { (x: xValue($0.x), y: yValue($0.y)) }
        }
        let xs = plotted.flatMap { $0.map(\.x) } + markers.map { xValue($0.x) }
        let ys = plotted.flatMap { $0.map(\.y) } + levels.map { yValue($0.x) }
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(Self.escape(title))\">"
        svg += "<title>\(Self.escape(title))</title>"
        svg += "<text x=\"\(Int(Self.left))\" y=\"18\" class=\"chart-title\">\(Self.escape(title))</text>"
        guard let minX = xs.min(), let maxX = xs.max(), let rawMinY = ys.min(), let rawMaxY = ys.max() else {
            svg += "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\" class=\"chart-empty\">no data</text></svg>"
            return svg
        }
        let minY = logY ? floor(rawMinY) : min(0, rawMinY)
        var maxY = logY ? ceil(rawMaxY) : rawMaxY * 1.08
        if maxY <= minY { maxY = minY + 1 }
        let spanX = maxX > minX ? maxX - minX : 1
        let plotWidth = width - Self.left - Self.right
        let plotHeight = height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x - minX) / spanX * plotWidth }
        func py(_ y: Double) -> Double { Self.top + plotHeight - (y - minY) / (maxY - minY) * plotHeight }

        // Axes and ticks.
        svg += "<g class=\"axis\">"
        svg += line(Self.left, Self.top + plotHeight, Self.left + plotWidth, Self.top + plotHeight)
        svg += line(Self.left, Self.top, Self.left, Self.top + plotHeight)
        for tick in yTicks(minY, maxY) {
            let y = py(tick)
            svg += "<line x1=\"\(f(Self.left))\" y1=\"\(f(y))\" x2=\"\(f(Self.left + plotWidth))\" y2=\"\(f(y))\" class=\"grid\"/>"
            let label = logY ? Format.number(pow(10, tick)) : Format.number(tick)
            svg += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label)</text>"
        }
        for (tick, label) in xTicks(minX, maxX) {
            let x = px(tick)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(Self.top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(Self.top + plotHeight + 4))\"/>"
            svg += "<text x=\"\(f(x))\" y=\"\(f(Self.top + plotHeight + 16))\" text-anchor=\"middle\">\(label)</text>"
        }
        svg +=
            "<text x=\"\(f(Self.left + plotWidth / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\" class=\"axis-label\">\(Self.escape(xLabel))</text>"
        svg +=
            "<text x=\"12\" y=\"\(f(Self.top + plotHeight / 2))\" text-anchor=\"middle\" class=\"axis-label\" transform=\"rotate(-90 12 \(f(Self.top + plotHeight / 2)))\">\(Self.escape(yLabel))</text>"
        svg += "</g>"

        for marker in markers {
            let x = px(xValue(marker.x))
            svg +=
                "<g class=\"marker\"><line x1=\"\(f(x))\" y1=\"\(f(Self.top))\" x2=\"\(f(x))\" y2=\"\(f(Self.top + plotHeight))\" stroke=\"\(marker.color)\" stroke-dasharray=\"3 3\"/>"
            svg += "<text x=\"\(f(x + 3))\" y=\"\(f(Self.top + 10))\" fill=\"\(marker.color)\">\(Self.escape(marker.label))</text></g>"
        }
        for level in levels {
            let y = py(yValue(level.x))
            svg +=
                "<g class=\"level\"><line x1=\"\(f(Self.left))\" y1=\"\(f(y))\" x2=\"\(f(Self.left + plotWidth))\" y2=\"\(f(y))\" stroke=\"\(level.color)\" stroke-dasharray=\"8 4\"/>"
            svg +=
                "<text x=\"\(f(Self.left + plotWidth - 4))\" y=\"\(f(y - 4))\" text-anchor=\"end\" fill=\"\(level.color)\">\(Self.escape(level.label))</text></g>"
        }
        for (index, points) in plotted.enumerated() where !points.isEmpty {
            let color = Self.palette[index % Self.palette.count]
            let coordinates = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            let dash = series[index].dashed ? " stroke-dasharray=\"6 3\"" : ""
            svg +=
                "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.6\"\(dash)><title>\(Self.escape(series[index].name))</title></polyline>"
        }
        // Legend, under the title.
        var legendX = Self.left
        for (index, s) in series.enumerated() {
            let color = Self.palette[index % Self.palette.count]
            svg += "<g class=\"legend\"><rect x=\"\(f(legendX))\" y=\"27\" width=\"12\" height=\"4\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(f(legendX + 16))\" y=\"33\">\(Self.escape(s.name))</text></g>"
            legendX += Double(s.name.count) * 6.5 + 30
        }
        svg += "</svg>"
        return svg
    }

    func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) -> String {
        "<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\"/>"
    }

    func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// About five round ticks (decades on a log axis).
    func yTicks(_ low: Double, _ high: Double) -> [Double] {
        if logY { return stride(from: low, through: high, by: 1).map { $0 } }
        let step = Self.niceStep((high - low) / 5)
        return stride(from: (low / step).rounded(.up) * step, through: high, by: step).map { $0 }
    }

    func xTicks(_ low: Double, _ high: Double) -> [(Double, String)] {
        switch xAxis {
        case .percentile:
            return [(0, "0%"), (1, "90%"), (2, "99%"), (3, "99.9%"), (4, "99.99%"), (5, "99.999%")].filter {
                $0.0 >= low - 1e-9 && $0.0 <= high + 1e-9
            }
        case .linear:
            let step = Self.niceStep((high - low) / 8)
            return stride(from: (low / step).rounded(.up) * step, through: high, by: step).map { ($0, Format.number($0)) }
        }
    }

    static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    public static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }

    /// Points averaged over buckets of `width` along x (100 ms CPU readings are 10 ms ticks apart:
    /// a one-second mean shows the load, not the tick).
    public static func average(_ points: [(x: Double, y: Double)], over width: Double) -> [(x: Double, y: Double)] {
        var result: [(x: Double, y: Double)] = []
        var bucket: [(x: Double, y: Double)] = []
        for point in points {
            if let first = bucket.first, point.x - first.x >= width {
                result.append((bucket.map(\.x).reduce(0, +) / Double(bucket.count), bucket.map(\.y).reduce(0, +) / Double(bucket.count)))
                bucket.removeAll(keepingCapacity: true)
            }
            bucket.append(point)
        }
        if !bucket.isEmpty {
            result.append((bucket.map(\.x).reduce(0, +) / Double(bucket.count), bucket.map(\.y).reduce(0, +) / Double(bucket.count)))
        }
        return result
    }

    /// At most `limit` points: consecutive points averaged into buckets (a long soak stays light).
    public static func thin(_ points: [(x: Double, y: Double)], limit: Int = 600) -> [(x: Double, y: Double)] {
        guard points.count > limit else { return points }
        let size = Int((Double(points.count) / Double(limit)).rounded(.up))
        return stride(from: 0, to: points.count, by: size).map { start in
            let slice = points[start..<min(points.count, start + size)]
            return (slice.map(\.x).reduce(0, +) / Double(slice.count), slice.map(\.y).reduce(0, +) / Double(slice.count))
        }
    }
}
