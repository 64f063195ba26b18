public import OceanKit

/// Which integration a binary runs: its own one, or one of several chosen by
/// `OCEAN__INTEGRATION__TYPE` (what `ocean` does with the built-in ones).
///
/// The server never names an integration itself: the binary gives it this, so an integration's own
/// binary links neither `fake` nor `jsonl`.
public struct IntegrationChoice: Sendable {
    /// The types that can be chosen, for error messages.
    public let types: [String]
    /// The type every setting resolves to when the binary holds exactly one integration.
    let fixed: OceanIntegration?
    private let make: @Sendable (String) -> OceanIntegration?

    /// The binary's own integration: `OCEAN__INTEGRATION__TYPE` is not read.
    public static func single(_ integration: OceanIntegration) -> IntegrationChoice {
        IntegrationChoice(types: [integration.type], fixed: integration, make: { $0 == integration.type ? integration : nil })
    }

    /// One of `types`, made by `make` once the settings name it.
    public static func byType(_ types: [String], make: @escaping @Sendable (String) -> OceanIntegration?) -> IntegrationChoice {
        IntegrationChoice(types: types, fixed: nil, make: make)
    }

    /// The integration of `type`, nil when there is none by that name.
    public func integration(type: String) -> OceanIntegration? {
        fixed ?? make(type)
    }

    /// What a setting naming an unknown type is told.
    func unknownTypeMessage(_ type: String) -> String {
        "must be one of \(types.joined(separator: ", ")), got \"\(type.prefix(40))\""
    }
}
