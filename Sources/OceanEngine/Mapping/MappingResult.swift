public import OceanKit
import JQ

/// What mapping a batch of records produced.
public struct MappingResult: Sendable {
    public var entities: [MappedEntity] = []
    /// Records read (before itemsToParse).
    public var records = 0
    /// Records (or items) the selector turned away.
    public var filteredOut = 0
    /// Records, items or entities that produced no entity because of a problem.
    public var failed = 0
    /// Fields that mapped to null because their expression failed or gave nothing.
    public var misconfiguredFields = 0
    /// The problems, at most `problemLimit` of them (the counts above stay exact).
    public var problems: [MappingProblem] = []
    public var problemLimit: Int

    public init(problemLimit: Int = 1000) {
        self.problemLimit = problemLimit
    }

    mutating func report(_ problem: MappingProblem) {
        if problems.count < problemLimit { problems.append(problem) }
    }

}

/// Running counts over many `MappingResult`s (the entities themselves are not kept).
public struct MappingTotals: Sendable, Hashable {
    public var records = 0
    public var entities = 0
    public var filteredOut = 0
    public var failed = 0
    public var misconfiguredFields = 0

    public init() {}

    public mutating func add(_ result: MappingResult) {
        records += result.records
        entities += result.entities.count
        filteredOut += result.filteredOut
        failed += result.failed
        misconfiguredFields += result.misconfiguredFields
    }
}
