/// What a route runs.
public enum RouteHandler: Sendable {
    /// Answered on the event-loop thread, at once. For cheap, non-blocking answers (health checks):
    /// it must not block, sleep or wait for anything.
    case immediate(@Sendable (HTTPRequest) -> HTTPResponse)
    /// Run as a Swift task; the reply is handed back to the loop thread when it is ready. A thrown
    /// `HTTPError` becomes its JSON error; any other error becomes a 500 whose message hides details.
    case asynchronous(@Sendable (HTTPRequest) async throws -> HTTPResponse)
}

/// One route: a method, a path pattern and a handler.
///
/// Patterns are literal segments, `{name}` (one segment) and, last only, `{name...}` (the rest of the
/// path, at least one segment): `/jobs/{id}`, `/integration/{path...}`.
public struct Route: Sendable {
    public let method: HTTPMethod
    public let pattern: String
    /// The largest body this route reads; `nil`: the server's default for POST, PUT and PATCH, and
    /// no body (0) for the other methods. A body over it is refused before it is read.
    public let maxBodySize: Int?
    public let handler: RouteHandler
    /// The route's position in its router (set by `Router`): loops keep per-route state in arrays.
    var index = -1

    public init(_ method: HTTPMethod, _ pattern: String, maxBodySize: Int? = nil, handler: RouteHandler) {
        self.method = method
        self.pattern = pattern
        self.maxBodySize = maxBodySize
        self.handler = handler
    }
}

extension Route {
    /// The body limit in force: the route's own, else the server's default for methods that carry
    /// content, else none.
    func bodyLimit(default defaultSize: Int) -> Int {
        if let maxBodySize { return maxBodySize }
        switch method {
        case .post, .put, .patch: return defaultSize
        case .get, .head, .delete, .options, .trace, .connect: return 0
        }
    }
}

/// Matches request paths to routes. Immutable once built, shared by every loop thread.
public struct Router: Sendable {
    /// The outcome of matching one request.
    enum Match {
        case found(Route, parameters: [String: String])
        case methodNotAllowed(allowed: [HTTPMethod])
        case notFound
        case badPath
    }

    private enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    private struct CompiledRoute: Sendable {
        let route: Route
        let segments: [Segment]
    }

    private let compiled: [CompiledRoute]
    /// Routes without parameters: the common case is a short scan of string comparisons (cheaper
    /// than hashing the path for the dozen routes a service has).
    private let literalRoutes: [(path: String, method: HTTPMethod, route: Route)]

    /// Builds a router. A malformed pattern or two routes with the same method and pattern are
    /// programming errors and stop the process with a message naming them.
    public init(_ routes: [Route]) {
        var compiled: [CompiledRoute] = []
        var literal: [(path: String, method: HTTPMethod, route: Route)] = []
        var seen = Set<String>()
        for (index, given) in routes.enumerated() {
            var route = given
            route.index = index
            let key = "\(route.method.rawValue) \(route.pattern)"
            precondition(seen.insert(key).inserted, "duplicate route \(key)")
            let segments = Router.compile(route.pattern)
            compiled.append(CompiledRoute(route: route, segments: segments))
            if segments.allSatisfy({ if case .literal = $0 { true } else { false } }) {
                literal.append((path: route.pattern, method: route.method, route: route))
            }
        }
        self.compiled = compiled
        self.literalRoutes = literal
    }

    /// How many routes there are (indices run from 0 to `count - 1`).
    var count: Int { compiled.count }

    /// Every route's method and pattern, for comparing with the OpenAPI document.
    public var table: [(method: HTTPMethod, pattern: String)] {
        compiled.map { (method: $0.route.method, pattern: $0.route.pattern) }
    }

    /// The largest body size any route accepts (the server's connection-level cap).
    func largestBodySize(default defaultSize: Int) -> Int {
        compiled.reduce(0) { max($0, $1.route.bodyLimit(default: defaultSize)) }
    }

    /// The methods some route serves at `path` (HEAD wherever GET is); empty when none does.
    /// For answering a method the server does not know: rare, so plainly done.
    func allowedMethods(path: String) -> [HTTPMethod] {
        var allowed = Set<HTTPMethod>()
        for method in HTTPMethod.allCases where method != .head {
            if case .found(let route, _) = match(method, path: path), route.method == method { allowed.insert(method) }
        }
        if allowed.contains(.get) { allowed.insert(.head) }
        return allowed.sorted()
    }

    func match(_ method: HTTPMethod, path: String) -> Match {
        // HEAD is answered by GET routes (the loop leaves the body out).
        let lookup: HTTPMethod = method == .head ? .get : method
        for literal in literalRoutes where literal.path == path && (literal.method == lookup || literal.method == method) {
            return .found(literal.route, parameters: [:])
        }
        guard path.utf8.first == UInt8(ascii: "/") else { return .notFound }
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
            .map { Substring($0) }
        var allowed: Set<HTTPMethod> = []
        var found: (Route, [String: String])?
        for candidate in compiled {
            guard let parameters = Router.bind(candidate.segments, to: parts) else { continue }
            guard let decoded = parameters.decoded() else { return .badPath }
            allowed.insert(candidate.route.method)
            if found == nil, candidate.route.method == lookup || candidate.route.method == method {
                found = (candidate.route, decoded)
            }
        }
        if let found { return .found(found.0, parameters: found.1) }
        if allowed.isEmpty { return .notFound }
        if allowed.contains(.get) { allowed.insert(.head) }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    private static func compile(_ pattern: String) -> [Segment] {
        precondition(pattern.hasPrefix("/"), "route pattern \(pattern) must start with /")
        let raw = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var segments: [Segment] = []
        for (index, part) in raw.enumerated() {
            if part.hasPrefix("{") && part.hasSuffix("...}") {
                precondition(index == raw.count - 1, "{name...} must be last in \(pattern)")
                segments.append(.rest(String(part.dropFirst().dropLast(4))))
            } else if part.hasPrefix("{") && part.hasSuffix("}") {
                segments.append(.parameter(String(part.dropFirst().dropLast())))
            } else {
                precondition(!part.contains("{") && !part.contains("}"), "malformed segment \(part) in \(pattern)")
                segments.append(.literal(String(part)))
            }
        }
        return segments
    }

    /// Raw (still percent-encoded) parameter values when `parts` fits `segments`.
    private static func bind(_ segments: [Segment], to parts: [Substring]) -> RawParameters? {
        var parameters = RawParameters()
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let text):
                guard index < parts.count, parts[index] == text else { return nil }
            case .parameter(let name):
                guard index < parts.count, !parts[index].isEmpty else { return nil }
                parameters.values.append((name, parts[index]))
            case .rest(let name):
                guard index < parts.count else { return nil }
                let rest = parts[index...]
                guard !rest.contains(where: \.isEmpty) else { return nil }
                parameters.values.append((name, Substring(rest.joined(separator: "/"))))
                return parameters
            }
        }
        return parts.count == segments.count ? parameters : nil
    }

    private struct RawParameters {
        var values: [(String, Substring)] = []

        func decoded() -> [String: String]? {
            var result: [String: String] = [:]
            for (name, raw) in values {
                guard let value = PercentDecoding.decode(raw), !value.contains("\0") else { return nil }
                result[name] = value
            }
            return result
        }
    }
}
