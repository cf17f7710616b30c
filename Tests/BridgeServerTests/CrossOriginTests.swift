import BridgeServer
import BridgeTesting
import Foundation
import Testing

extension BridgeSuites {
    @Suite(
        "pages on other origins, in a real browser",
        .serialized,
        .enabled(if: Browser.available, "needs chromium and chromium-driver (.ci/run installs them)")
    )
    struct CrossOriginTests {
        /// From the page: a fetch with a header that needs a preflight, an EventSource and a
        /// WebSocket to the bridge on `port`; each says what it got (`snapshot`, or how it failed).
        static func tryEverything(port: Int) -> String {
            """
            window.result = {};
            fetch('http://127.0.0.1:\(port)/api/live_data/NQ', {headers: {'Authorization': 'Bearer none'}})
              .then(r => r.json()).then(j => { window.result.fetch = j.type; }).catch(e => { window.result.fetch = 'error'; });
            const es = new EventSource('http://127.0.0.1:\(port)/sse?symbols=NQ');
            es.addEventListener('snapshot', e => { window.result.sse = JSON.parse(e.data).type; es.close(); });
            es.onerror = () => { if (!window.result.sse) window.result.sse = 'error'; es.close(); };
            const ws = new WebSocket('ws://127.0.0.1:\(port)/ws/live_data/NQ');
            ws.onmessage = e => { const m = JSON.parse(e.data); if (m.type === 'snapshot') { window.result.ws = 'snapshot'; ws.close(); } };
            ws.onclose = e => { if (!window.result.ws) window.result.ws = 'closed ' + e.code; };
            return true;
            """
        }

        /// Opens `page` and tries everything against the bridge on `bridge`; what each got.
        static func results(_ browser: Browser, page: String, bridge: Int) async throws -> [String: Any] {
            try await browser.open(page)
            _ = try await browser.run(tryEverything(port: bridge))
            try await browser.wait("the requests from \(page)", "window.result.fetch && window.result.sse && window.result.ws")
            return try #require(try await browser.run("return window.result;") as? [String: Any])
        }

        @Test("--allow-origin: a listed origin's page reads /api (preflight answered), /sse and the WebSocket; another origin's page gets none")
        func allowedAndRefusedOrigins() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"], rate: 200, flushMilliseconds: 100)
            defer { folder.cleanup() }
            // The pages come from a second bridge: its dashboard is just a page on another origin.
            try await withBridge(folder.path) { pages in
                let listed = "http://127.0.0.1:\(pages.port)"
                try await withBridge(settings(folder.path) { $0.allowedOrigins = [listed] }) { bridge in
                    try await Browser.session { browser in
                        let allowed = try await Self.results(browser, page: listed + "/dashboard", bridge: bridge.port)
                        #expect(allowed["fetch"] as? String == "snapshot" && allowed["sse"] as? String == "snapshot", "\(allowed)")
                        #expect(allowed["ws"] as? String == "snapshot", "\(allowed)")
                        // The same page on another origin (localhost is not 127.0.0.1 to a browser).
                        let refused = try await Self.results(browser, page: "http://localhost:\(pages.port)/dashboard", bridge: bridge.port)
                        #expect(refused["fetch"] as? String == "error" && refused["sse"] as? String == "error", "\(refused)")
                        #expect(refused["ws"] as? String == "closed 1006", "\(refused)")
                        // The bridge's own page is its own origin: its WebSocket is let in.
                        let own = try await Self.results(browser, page: "http://127.0.0.1:\(bridge.port)/dashboard", bridge: bridge.port)
                        #expect(own["ws"] as? String == "snapshot" && own["fetch"] as? String == "snapshot", "\(own)")
                    }
                }
            }
        }

        @Test("CORS headers only for listed origins; a WebSocket upgrade without Origin (not a browser) is unaffected")
        func headers() async throws {
            let folder = try SimulatedFolder(roots: ["NQ"])
            defer { folder.cleanup() }
            try await withBridge(settings(folder.path) { $0.allowedOrigins = ["http://app.example:3000"] }) { bridge in
                let preflight = try RawHTTP(port: bridge.port)
                preflight.send(
                    "OPTIONS /api/live_data/NQ HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example:3000\r\n"
                        + "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: authorization\r\nConnection: close\r\n\r\n"
                )
                let (status, headers) = try preflight.head()
                #expect(status == 204 && headers["access-control-allow-origin"] == "http://app.example:3000", "\(headers)")
                #expect(headers["access-control-allow-headers"]?.lowercased().contains("authorization") == true)
                let listed = try RawHTTP.get(port: bridge.port, "/api/live_data/NQ", headers: ["Origin": "http://app.example:3000"])
                #expect(listed.status == 200 && listed.headers["access-control-allow-origin"] == "http://app.example:3000")
                let other = try RawHTTP.get(port: bridge.port, "/api/live_data/NQ", headers: ["Origin": "http://evil.example"])
                #expect(other.headers["access-control-allow-origin"] == nil)
                // swift-websocket's client sends `Origin: ws://127.0.0.1`: no browser's, not checked.
                let plain = try await TestWSClient(url: bridge.ws + "/ws/live_data/NQ")
                defer { Task { await plain.close() } }
                _ = try await plain.until("snapshot")
                // A browser's upgrade from an origin not listed gets no WebSocket.
                let upgrade = try RawHTTP(port: bridge.port)
                upgrade.send(
                    "GET /ws/live_data/NQ HTTP/1.1\r\nHost: 127.0.0.1:\(bridge.port)\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\n"
                        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                )
                #expect(try upgrade.head().status == 400)
            }
        }
    }
}
