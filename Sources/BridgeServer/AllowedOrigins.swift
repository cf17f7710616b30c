import HTTPTypes
import Hummingbird

/// The web origins whose pages may use the bridge: CORS headers (and preflight answers) on the
/// HTTP routes for them, and the `Origin` check on WebSocket upgrades, which browsers let any page
/// make (the same-origin policy does not cover WebSockets).
public struct AllowedOrigins: Sendable {
    public let origins: Set<String>

    public init(_ origins: [String]) {
        self.origins = Set(origins.map(Self.normalized))
    }

    /// Whether `text` is an origin: `scheme://host[:port]`, nothing after.
    public static func isOrigin(_ text: String) -> Bool {
        guard let range = text.range(of: "://") else { return false }
        let scheme = text[..<range.lowerBound]
        let authority = text[range.upperBound...]
        return ["http", "https"].contains(scheme.lowercased()) && !authority.isEmpty && !authority.contains("/")
            && !authority.contains(where: \.isWhitespace)
    }

    /// Origins compare without a trailing slash and case-insensitively in scheme and host.
    static func normalized(_ origin: String) -> String {
        var text = origin.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// Whether a page on `origin` is let in.
    func allows(_ origin: String) -> Bool { origins.contains(Self.normalized(origin)) }

    /// Whether a WebSocket upgrade may go ahead: no origins listed (no check), no browser's
    /// `Origin` sent, a listed one, or the bridge's own (a page it served, like the dashboard).
    /// A browser's origin is `http(s)://…` or `null` (a sandboxed or local page); other clients
    /// send none, or one of their own making (swift-websocket sends `ws://HOST`): not checked.
    func allowsUpgrade(_ request: Request) -> Bool {
        guard !origins.isEmpty, let origin = request.headers[.origin] else { return true }
        let lowered = origin.lowercased()
        guard lowered == "null" || lowered.hasPrefix("http://") || lowered.hasPrefix("https://") else { return true }
        if allows(origin) { return true }
        guard let host = request.head.authority else { return false }
        let own = Self.normalized(origin)
        return own == "http://\(host.lowercased())" || own == "https://\(host.lowercased())"
    }

    /// CORS for the listed origins only: a request from any other origin gets no CORS headers, so
    /// its browser keeps the answer from the page.
    struct Middleware<Context: RequestContext>: RouterMiddleware {
        let allowed: AllowedOrigins
        let cors = CORSMiddleware<Context>(
            allowOrigin: .originBased,
            allowHeaders: [.accept, .authorization, .contentType, .origin, .lastEventID, .cacheControl],
            allowMethods: [.get, .head, .options],
            maxAge: .seconds(600)
        )

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            guard let origin = request.headers[.origin], allowed.allows(origin) else {
                return try await next(request, context)
            }
            return try await cors.handle(request, context: context, next: next)
        }
    }
}
