/// What an integration creates in a Port organisation that does not have it yet: its
/// `.port/resources` files as JSON texts. Blueprints first (in three stages, so relations may point
/// at each other), then scorecards, pages and actions; the default mapping goes with them.
///
/// ```swift
/// let ocean = OceanIntegration(type: "jira", defaultMapping: mapping,
///                              resources: PortResources(blueprints: blueprintsJSON))
/// ```
public struct PortResources: Sendable, Hashable {
    /// `blueprints.json`: an array of Port blueprints.
    public var blueprints: String?
    /// `scorecards.json`: `[{"blueprint": "...", "data": [scorecard, ...]}, ...]`.
    public var scorecards: String?
    /// `pages.json`: an array of Port pages.
    public var pages: String?
    /// `actions.json`: an array of Port actions.
    public var actions: String?

    public init(blueprints: String? = nil, scorecards: String? = nil, pages: String? = nil, actions: String? = nil) {
        self.blueprints = blueprints
        self.scorecards = scorecards
        self.pages = pages
        self.actions = actions
    }

    /// The identifiers of `blueprints`, in order (none when it is absent or not a JSON array).
    public var blueprintIdentifiers: [String] {
        guard let blueprints, let array = (try? JSON.parseYAML(blueprints))?.arrayValue else { return [] }
        return array.compactMap { $0["identifier"]?.stringValue }
    }

    /// True when there is nothing to create.
    public var isEmpty: Bool { blueprints == nil && scorecards == nil && pages == nil && actions == nil }
}
