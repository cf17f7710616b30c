import BridgeTesting
import Foundation
import NIOConcurrencyHelpers
import Testing

/// A W3C WebDriver session with a headless Chromium, spoken over HTTP to `chromedriver`.
final class Browser: Sendable {
    static let driverPath = "/usr/bin/chromedriver"
    static let chromiumPath = "/usr/bin/chromium"
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: driverPath) && FileManager.default.isExecutableFile(atPath: chromiumPath)
    }

    let driver: Process
    let base: String
    let session: String

    init() async throws {
        let port = try freeLoopbackPort()
        driver = Process()
        driver.executableURL = URL(fileURLWithPath: Self.driverPath)
        driver.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        base = "http://127.0.0.1:\(port)"
        let driver = self.driver
        var started = false
        defer { if !started { driver.terminate() } }
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let status = try? await Self.call(base + "/status", method: "GET"), (status["value"] as? [String: Any])?["ready"] as? Bool == true {
                break
            }
            guard Date() < deadline else { throw Timeout(description: "chromedriver did not start") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": Self.chromiumPath,
                        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"],
                    ],
                ]
            ]
        ]
        let answer = try await Self.call(base + "/session", method: "POST", body: capabilities)
        guard let value = answer["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            throw Timeout(description: "no WebDriver session: \(answer)")
        }
        session = id
        started = true
    }

    /// One request to chromedriver on a connection of its own (`Connection: close`), on a thread
    /// of its own. (Foundation's URLSession on Linux refuses chromedriver's `Content-Length:251`,
    /// written without a space.)
    static func call(_ url: String, method: String, body: [String: Any]? = nil) async throws -> [String: Any] {
        let parsed = URL(string: url)!
        let port = parsed.port ?? 80
        let path = parsed.path.isEmpty ? "/" : parsed.path
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let data = try await blocking { () throws -> Data in
            let fd = try connectLoopback(port: port)
            defer { close(fd) }
            var timeout = timeval(tv_sec: 60, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n".utf8)
            request += Data("Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n".utf8) + payload
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            // Read the head, then as many body bytes as Content-Length says.
            var response = Data()
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                if let split = response.range(of: Data("\r\n\r\n".utf8)) {
                    let head = String(decoding: response[..<split.lowerBound], as: UTF8.self).lowercased()
                    let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                        .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
                    if let length, response.count - split.upperBound >= length { return response }
                }
                let count = recv(fd, &buffer, buffer.count, 0)
                if count <= 0 { break }
                response.append(contentsOf: buffer[0..<count])
            }
            return response
        }
        guard let split = data.range(of: Data("\r\n\r\n".utf8)) else { throw Timeout(description: "no answer from chromedriver") }
        return (try JSONSerialization.jsonObject(with: data[split.upperBound...]) as? [String: Any]) ?? [:]
    }

    func command(_ path: String, method: String = "POST", _ body: [String: Any] = [:]) async throws -> Any? {
        try await Self.call("\(base)/session/\(session)\(path)", method: method, body: method == "POST" ? body : nil)["value"]
    }

    func open(_ url: String) async throws {
        _ = try await command("/url", ["url": url])
    }

    /// Runs JavaScript in the page and returns its result.
    func run(_ script: String) async throws -> Any? {
        try await command("/execute/sync", ["script": script, "args": [] as [Any]])
    }

    /// A Chrome DevTools Protocol command, through chromedriver.
    func devTools(_ command: String, _ parameters: [String: Any]) async throws {
        _ = try await self.command("/goog/cdp/execute", ["cmd": command, "params": parameters])
    }

    func screenshot(to path: String) async throws {
        guard let base64 = try await command("/screenshot", method: "GET") as? String, let data = Data(base64Encoded: base64) else {
            throw Timeout(description: "no screenshot")
        }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Polls `condition` (JavaScript returning true) until it holds.
    func wait(_ what: String, timeout: Double = 20, _ condition: String) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await run("return Boolean(\(condition));") as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        let state = try? await run("return document.getElementById('status').dataset.state + ' / ' + document.body.dataset.updates;")
        throw Timeout(description: "timed out waiting for \(what) (page: \(String(describing: state)))")
    }

    /// Runs `body` with a new browser and always quits it, awaited, so no chromedriver or
    /// Chromium outlives the test.
    static func session<T>(_ body: (Browser) async throws -> T) async throws -> T {
        let browser = try await Browser()
        do {
            let result = try await body(browser)
            await browser.quit()
            return result
        } catch {
            await browser.quit()
            throw error
        }
    }

    /// Ends the session (Chromium quits with it), then the driver: politely, then for good, since
    /// chromedriver may ignore SIGTERM.
    func quit() async {
        _ = try? await Self.call("\(base)/session/\(session)", method: "DELETE")
        driver.terminate()
        let deadline = Date().addingTimeInterval(3)
        while driver.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
    }
}

extension BridgeSuites {
    @Suite("dashboard in a real browser", .serialized, .enabled(if: Browser.available, "needs chromium and chromium-driver (.ci/run installs them)"))
    struct DashboardBrowserTests {
        static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts").path

        /// What the page shows for a contract, as numbers.
        static let readCard = """
            const card = document.querySelector('[data-contract="NQZ25-CME"]');
            if (!card) return null;
            const value = (name) => card.querySelector('[data-field="' + name + '"]').textContent.replace(/,/g, '');
            return {seq: Number(card.dataset.seq), last: value('last'), bid: value('bid'), ask: value('ask'), volume: value('volume'),
                    updates: Number(document.body.dataset.updates || 0), state: document.getElementById('status').dataset.state};
            """

        /// JavaScript: whether the element is on screen (not merely present).
        static func displayed(_ id: String) -> String {
            "const e = document.getElementById('\(id)'); return e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';"
        }

        func card(_ browser: Browser) async throws -> [String: Any] {
            try #require(try await browser.run(Self.readCard) as? [String: Any])
        }

        @Test("the page shows the bridge's numbers from the stream, shows reconnecting when the bridge goes, and comes back without a reload")
        func liveDashboard() async throws {
            let folder = try SimulatedFolder(roots: ["NQ", "ES"], rate: 200, flushMilliseconds: 100)
            defer { folder.cleanup() }
            let writing = NIOLockedValueBox(true)
            let writer = Task {
                while writing.withLockedValue({ $0 }) {
                    try folder.advance(by: 0.2)
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { writer.cancel() }
            var bridge = try BridgeProcess(["--data-dir", folder.path, "--port", "0", "--dashboard-interval", "1", "--log-level", "warning"])
            let port = try await bridge.port()
            try await Browser.session { browser in

                try await browser.open("http://127.0.0.1:\(port)/dashboard")
                try await browser.wait("the first dashboard event", "document.body.dataset.updates >= 1")
                // No token needed: no token form on screen, no fallback notice.
                #expect(try await browser.run(Self.displayed("token-form")) as? Bool == false)
                #expect(try await browser.run(Self.displayed("notice")) as? Bool == false)
                // Prices update at least twice.
                let first = try await card(browser)
                let firstSeq = try #require(first["seq"] as? Double)
                try await browser.wait(
                    "a price update",
                    "Number(document.querySelector('[data-contract=\"NQZ25-CME\"]').dataset.seq) > \(Int(firstSeq))"
                )
                let second = try #require(try await card(browser)["seq"] as? Double)
                try await browser.wait(
                    "another price update",
                    "Number(document.querySelector('[data-contract=\"NQZ25-CME\"]').dataset.seq) > \(Int(second))"
                )

                // The market stops; once the page has shown a later event, its numbers are the bridge's.
                writing.withLockedValue { $0 = false }
                _ = await writer.result
                try await Task.sleep(for: .milliseconds(300))
                let updates = try #require(try await card(browser)["updates"] as? Double)
                try await browser.wait("two more events", "Number(document.body.dataset.updates) >= \(Int(updates) + 2)")
                let shown = try await card(browser)
                let truth =
                    try JSONSerialization.jsonObject(with: Data(try await RawHTTP.fetch(port: port, "/api/live_data/NQ").body.utf8)) as! [String: Any]
                #expect(shown["seq"] as? Double == (truth["seq"] as? NSNumber)?.doubleValue)
                let last = try #require((truth["last"] as? [String: Any])?["price"] as? NSNumber)
                #expect(Double(shown["last"] as? String ?? "") == last.doubleValue)
                #expect(Double(shown["bid"] as? String ?? "") == (truth["bid"] as? NSNumber)?.doubleValue)
                #expect(Double(shown["ask"] as? String ?? "") == (truth["ask"] as? NSNumber)?.doubleValue)
                #expect(Double(shown["volume"] as? String ?? "") == (truth["volume"] as? NSNumber)?.doubleValue)
                #expect(shown["state"] as? String == "connected")
                // The bridge's own figures are shown, from the stream.
                let detect = try await browser.run("return document.querySelector('[data-field=\"detect\"]').textContent;") as? String
                #expect(detect?.hasSuffix(" ms") == true || detect == "no reads" || detect == "no subscribers", "\(String(describing: detect))")
                let connections = try await browser.run("return document.querySelector('[data-field=\"connections\"]').textContent;") as? String
                #expect(connections?.contains("sse") == true)
                try await browser.screenshot(to: Self.artifacts + "/dashboard.png")

                // The bridge goes away: the page says it is reconnecting.
                _ = try await browser.run("window.bridgelabMarker = 42; return true;")
                bridge.signal(SIGTERM)
                // A wait, not a speed check: under a loaded CI run the graceful stop can take seconds.
                #expect(try await bridge.exit(timeout: 30) == 0)
                try await browser.wait(
                    "the reconnecting state",
                    "['reconnecting', 'stale'].includes(document.getElementById('status').dataset.state)"
                )
                try await browser.screenshot(to: Self.artifacts + "/dashboard-reconnecting.png")

                // It comes back on the same port: the numbers return, and the page was never reloaded.
                bridge = try BridgeProcess(["--data-dir", folder.path, "--port", String(port), "--dashboard-interval", "1", "--log-level", "warning"])
                _ = try await bridge.port()
                let before = try #require(try await card(browser)["updates"] as? Double)
                try await browser.wait(
                    "the stream to come back",
                    timeout: 30,
                    "document.getElementById('status').dataset.state === 'connected' && Number(document.body.dataset.updates) > \(Int(before))"
                )
                #expect(try await browser.run("return window.bridgelabMarker;") as? Double == 42)
                let back = try await card(browser)
                #expect(Double(back["last"] as? String ?? "") == last.doubleValue)
                bridge.signal(SIGTERM)
                _ = try await bridge.exit(timeout: 10)
            }
        }

        @Test("without EventSource the page polls /api/live_data every 5 s, and says so")
        func pollingFallback() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 200)
            defer { folder.cleanup() }
            let bridge = try BridgeProcess(["--data-dir", folder.path, "--port", "0", "--log-level", "warning"])
            defer { bridge.signal(SIGKILL) }
            let port = try await bridge.port()
            try await Browser.session { browser in
                try await browser.devTools("Page.addScriptToEvaluateOnNewDocument", ["source": "delete window.EventSource;"])
                try await browser.open("http://127.0.0.1:\(port)/dashboard")
                try await browser.wait(
                    "a polled price",
                    "document.querySelector('[data-contract=\"NQZ25-CME\"] [data-field=\"last\"]')?.textContent.match(/\\d/)"
                )
                #expect(try await browser.run(Self.displayed("notice")) as? Bool == true)
                let notice = try await browser.run("return document.getElementById('notice').textContent;") as? String
                #expect(notice?.contains("polling /api/live_data every 5 s") == true)
                #expect(try await browser.run("return document.getElementById('status').dataset.state;") as? String == "connected")
                let shown = try await card(browser)
                let truth =
                    try JSONSerialization.jsonObject(with: Data(try await RawHTTP.fetch(port: port, "/api/live_data/NQZ25-CME").body.utf8))
                    as! [String: Any]
                // The market is still: what was polled is what the bridge holds.
                #expect(Double(shown["last"] as? String ?? "") == ((truth["last"] as? [String: Any])?["price"] as? NSNumber)?.doubleValue)
                let metrics = try await RawHTTP.fetch(port: port, "/metrics").body
                #expect(metrics.contains("bridge_http_requests_total{route=\"/api/live_data/{symbol}\""))
                #expect(!metrics.contains("route=\"/api/stream/dashboard\""))
            }
        }

        @Test("a browser's WebSocket on /ws/live_data/{symbol}: every message parses with JSON.parse")
        func browserWebSocket() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 2_000, flushMilliseconds: 20)
            defer { folder.cleanup() }
            let bridge = try BridgeProcess(["--data-dir", folder.path, "--port", "0", "--log-level", "warning"])
            defer { bridge.signal(SIGKILL) }
            let port = try await bridge.port()
            try await Browser.session { browser in
                try await browser.open("http://127.0.0.1:\(port)/dashboard")
                _ = try await browser.run(
                    """
                    window.wsResult = {messages: 0, errors: 0, types: {}};
                    const socket = new WebSocket('ws://' + location.host + '/ws/live_data/NQ');
                    socket.onmessage = (event) => {
                      try { const m = JSON.parse(event.data); window.wsResult.messages += 1; window.wsResult.types[m.type] = true; }
                      catch (e) { window.wsResult.errors += 1; }
                    };
                    return true;
                    """
                )
                try await folder.stream(seconds: 2, steps: 20)
                try await browser.wait("messages", "window.wsResult.messages > 100")
                let result = try #require(try await browser.run("return window.wsResult;") as? [String: Any])
                #expect(result["errors"] as? Double == 0)
                let types = (result["types"] as? [String: Any]).map { Set($0.keys) } ?? []
                #expect(types.isSuperset(of: ["hello", "subscribed", "snapshot", "trade", "quote"]), "\(types)")
            }
        }

        @Test("with --token the page asks for it; a wrong token shows an error, the right one shows data")
        func tokenPrompt() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 200)
            defer { folder.cleanup() }
            let bridge = try BridgeProcess([
                "--data-dir", folder.path, "--port", "0", "--dashboard-interval", "1", "--token", "s3cret", "--log-level", "warning",
            ])
            defer { bridge.signal(SIGKILL) }
            let port = try await bridge.port()
            try await Browser.session { browser in
                try await browser.open("http://127.0.0.1:\(port)/dashboard")
                try await browser.wait("the token form", "document.getElementById('token-form').getClientRects().length > 0")
                #expect(try await browser.run("return document.getElementById('status').dataset.state;") as? String == "unauthorized")
                let submit =
                    "document.getElementById('token').value = arguments[0] || '%@'; document.getElementById('token-form').requestSubmit(); return true;"
                _ = try await browser.run(submit.replacingOccurrences(of: "%@", with: "wrong"))
                try await browser.wait("the refusal", "document.getElementById('token-error').textContent.includes('refused')")
                try await browser.screenshot(to: Self.artifacts + "/dashboard-token-refused.png")
                _ = try await browser.run(submit.replacingOccurrences(of: "%@", with: "s3cret"))
                try await browser.wait(
                    "data after the right token",
                    "document.body.dataset.updates >= 1 && document.querySelector('[data-contract=\"NQZ25-CME\"]')"
                )
                #expect(try await browser.run(Self.displayed("token-form")) as? Bool == false)
            }
        }
    }
}
