import Hummingbird
import NIOCore

/// `GET /dashboard`: the bridge's own page (HTML, CSS and plain JavaScript compiled into the
/// binary: no build step, nothing fetched from the network), fed by `/api/stream/dashboard`.
enum DashboardPage {
    static let files: [String: (type: String, bytes: [UInt8])] = [
        "/dashboard": ("text/html; charset=utf-8", PackageResources.dashboard_html),
        "/dashboard/dashboard.css": ("text/css; charset=utf-8", PackageResources.dashboard_css),
        "/dashboard/dashboard.js": ("text/javascript; charset=utf-8", PackageResources.dashboard_js),
    ]

    static func isPagePath(_ path: String) -> Bool { files[path] != nil }

    static func add(to router: Router<some RequestContext>) {
        for (path, file) in files {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok,
                    headers: [.contentType: file.type, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: ByteBuffer(bytes: file.bytes))
                )
            }
        }
    }
}
