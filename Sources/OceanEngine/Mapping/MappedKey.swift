/// An entity's place: its blueprint and identifier.
struct MappedKey: Hashable {
    let blueprint: String
    let identifier: String

    init(_ blueprint: String, _ identifier: String) {
        self.blueprint = blueprint
        self.identifier = identifier
    }
}
