import BridgeCore
import HTTPTypes
import Hummingbird

/// When a token is configured, every route but `/health` and the dashboard page's files needs it, as `Authorization: Bearer T`
/// or `?token=T` (browsers' WebSocket and EventSource cannot set headers). A wrong or missing
/// token gets 401 and no data.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The dashboard's page holds no data: it asks for the token and sends it with its requests.
        if request.uri.path == "/health" || DashboardPage.isPagePath(request.uri.path) { return try await next(request, context) }
        // A refused upgrade would reach the client as a bare 400 (hummingbird-websocket), so the
        // WebSocket handler checks the token itself and closes with 4401 and no data.
        if request.headers[.upgrade]?.lowercased() == "websocket" { return try await next(request, context) }
        guard Self.authorized(request, token: token) else {
            return Response(
                status: .unauthorized,
                headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer"],
                body: .init(byteBuffer: .init(string: #"{"error":"unauthorized","message":"a valid token is required"}"#))
            )
        }
        return try await next(request, context)
    }

    static func authorized(_ request: Request, token: String) -> Bool {
        let bearer = request.headers[.authorization].flatMap { value -> Substring? in
            value.hasPrefix("Bearer ") ? value.dropFirst(7) : nil
        }
        guard let presented = bearer.map(String.init) ?? request.uri.queryParameters.get("token") else { return false }
        return constantTimeEqual(presented, token)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}

/// Counts HTTP requests by route and status.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: BridgeCore.BridgeMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let route = Self.routeLabel(request.uri.path)
        do {
            let response = try await next(request, context)
            metrics.httpRequest(route: route, status: response.status.code)
            return response
        } catch let error as HTTPError {
            metrics.httpRequest(route: route, status: error.status.code)
            throw error
        }
    }

    /// Keeps label cardinality bounded: symbols are not part of the label.
    static func routeLabel(_ path: String) -> String {
        if path.hasPrefix("/api/live_data/") { return "/api/live_data/{symbol}" }
        if path.hasPrefix("/ws/live_data/") { return "/ws/live_data/{symbol}" }
        if DashboardPage.isPagePath(path) { return "/dashboard" }
        switch path {
        case "/ws", "/sse", "/health", "/metrics", "/api/symbols", "/api/stream/dashboard": return path
        default: return "other"
        }
    }
}
