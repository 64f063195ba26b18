import Essentials
import Logging

/// An integration: the resync handlers per kind, the hooks run once at start, and its default
/// mapping. This is what Ocean's `ocean` object is in a Python integration.
///
/// ```swift
/// enum ObjectKind: String { case project, issue }
///
/// let ocean = OceanIntegration(type: "jira", defaultMapping: mappingYAML)
/// ocean.onStart { context in
///     client = JiraClient(url: try context.integrationConfig.requiredString("jira_host"))
/// }
/// ocean.onResync(ObjectKind.project) { context in
///     let selector = try context.selector(as: ProjectSelector.self)   // Jira's `expand`
///     return client.projects(expand: selector.expand)                 // AsyncSequence of [JSON] pages
/// }
/// ```
public final class OceanIntegration: Sendable {
    /// Feeds one batch of a handler's output into the resync pipeline (awaits when the pipeline is
    /// busy: that is the back-pressure that keeps memory flat). Called from the handler's own task.
    public typealias BatchConsumer = (RecordBatch) async throws -> Void
    /// A handler with its sequence type erased: runs the handler and feeds every batch to the consumer.
    public typealias ErasedHandler = @Sendable (ResyncContext, BatchConsumer) async throws -> Void
    /// A start hook.
    public typealias StartHook = @Sendable (StartContext) async throws -> Void

    /// The integration type (`jira`, `fake`, ...): part of Port's ownership marker.
    public let type: String
    /// The integration's own version: in Port's ownership marker and the integration's record in
    /// Port, with swift-ocean's (`SwiftOcean.frameworkVersion`) as build metadata.
    public let version: String
    /// The mapping used when the user configures none (YAML or JSON text).
    public let defaultMapping: String?
    /// The settings it takes (its `.port/spec.yaml` text): checked before the service starts.
    public let spec: String?
    /// What it creates in a Port organisation on first start (its `.port/resources`).
    public let resources: PortResources

    private struct Registry {
        var byKind: [String: [ErasedHandler]] = [:]
        var forAllKinds: [@Sendable (String, ResyncContext, BatchConsumer) async throws -> Void] = []
        var startHooks: [StartHook] = []
        var processors: [String: [any WebhookProcessor]] = [:]
    }

    private let registry = Locked(Registry())

    public init(
        type: String, version: String = SwiftOcean.frameworkVersion, defaultMapping: String? = nil, spec: String? = nil,
        resources: PortResources = PortResources()
    ) {
        self.type = type
        self.version = version
        self.defaultMapping = defaultMapping
        self.spec = spec
        self.resources = resources
    }

    /// Registers a handler for one kind. Several handlers for one kind all run, one after the other,
    /// and their batches are concatenated.
    public func onResync<Kind: RawRepresentable<String>, Batches: AsyncSequence & Sendable>(
        _ kind: Kind, _ handler: @escaping @Sendable (ResyncContext) async throws -> Batches
    ) where Batches.Element: ResyncRecords {
        onResync(kind: kind.rawValue, handler)
    }

    /// Registers a handler for the kind named `kind`.
    public func onResync<Batches: AsyncSequence & Sendable>(
        kind: String, _ handler: @escaping @Sendable (ResyncContext) async throws -> Batches
    ) where Batches.Element: ResyncRecords {
        let erased: ErasedHandler = { context, consume in
            for try await batch in try await handler(context) {
                try await consume(batch.recordBatch())
            }
        }
        registry.withLock { $0.byKind[kind, default: []].append(erased) }
    }

    /// Registers a handler for every kind (Ocean's `@ocean.on_resync()` without a kind). It runs for
    /// kinds that have no handler of their own.
    public func onResync<Batches: AsyncSequence & Sendable>(
        _ handler: @escaping @Sendable (String, ResyncContext) async throws -> Batches
    ) where Batches.Element: ResyncRecords {
        registry.withLock {
            $0.forAllKinds.append { kind, context, consume in
                for try await batch in try await handler(kind, context) {
                    try await consume(batch.recordBatch())
                }
            }
        }
    }

    /// Registers a handler for one kind in the push form, Ocean's generators as Swift: the handler
    /// sends its batches (`[JSON]` or `RecordBatch`) as it fetches them, with whatever branches and
    /// state it needs; `send` returns once the pipeline has room for the batch (back-pressure).
    ///
    /// ```swift
    /// ocean.onResync(Kind.project) { context, send in
    ///     for try await page in client.projects() { try await send(page) }
    /// }
    /// ```
    public func onResync<Kind: RawRepresentable<String>>(
        _ kind: Kind, _ handler: @escaping @Sendable (ResyncContext, ResyncSender) async throws -> Void
    ) {
        onResync(kind: kind.rawValue, handler)
    }

    /// Registers a push-form handler for the kind named `kind`.
    public func onResync(kind: String, _ handler: @escaping @Sendable (ResyncContext, ResyncSender) async throws -> Void) {
        let erased: ErasedHandler = { context, consume in
            // The sender lives only as long as the handler runs.
            try await withoutActuallyEscaping(consume) { try await handler(context, ResyncSender($0)) }
        }
        registry.withLock { $0.byKind[kind, default: []].append(erased) }
    }

    /// Registers a push-form handler for every kind without one of its own.
    public func onResync(_ handler: @escaping @Sendable (String, ResyncContext, ResyncSender) async throws -> Void) {
        registry.withLock {
            $0.forAllKinds.append { kind, context, consume in
                try await withoutActuallyEscaping(consume) { try await handler(kind, context, ResyncSender($0)) }
            }
        }
    }

    /// Registers a webhook processor on `path` (deliveries arrive at `POST /integration<path>`, as in
    /// Ocean). Several processors may share a path.
    public func addWebhookProcessor(_ path: String, _ processor: any WebhookProcessor) {
        let normalized = path.hasPrefix("/") ? path : "/" + path
        registry.withLock { $0.processors[normalized, default: []].append(processor) }
    }

    /// The processors registered on `path`.
    public func webhookProcessors(for path: String) -> [any WebhookProcessor] {
        registry.withLock { $0.processors[path] ?? [] }
    }

    /// Registers a hook that runs once when the service starts, before the first resync (client
    /// set-up, webhook registration).
    public func onStart(_ hook: @escaping StartHook) {
        registry.withLock { $0.startHooks.append(hook) }
    }

    /// The handlers that serve `kind`: its own, else the all-kinds ones. Empty when none.
    public func handlers(for kind: String) -> [ErasedHandler] {
        registry.withLock { registry in
            if let own = registry.byKind[kind], !own.isEmpty { return own }
            return registry.forAllKinds.map { handler in { context, consume in try await handler(kind, context, consume) } }
        }
    }

    /// Kinds with a handler of their own.
    public var kindsWithHandlers: [String] {
        registry.withLock { $0.byKind.keys.sorted() }
    }

    /// Runs the start hooks in registration order; the first failure stops the start.
    public func runStartHooks(_ context: StartContext) async throws {
        for hook in startHooks {
            try await hook(context)
        }
    }

    /// The start hooks in registration order (the service runs them, and retries one that fails).
    public var startHooks: [StartHook] {
        registry.withLock { $0.startHooks }
    }
}
