import JQ

/// A tag the generated jq programs put first in what they output, and the Swift that reads the
/// output back: both sides use the same cases.
protocol OutputTag: RawRepresentable<Int> {}

extension OutputTag {
    /// The tag as it is written in jq.
    var jq: String { String(rawValue) }

    /// The tag as a jq value (for outputs built in Swift).
    var value: JQValue { .number(Double(rawValue)) }

    /// The tag of `output` (its first element); nil when it has none of these.
    init?(of output: borrowing JQValue) {
        guard let number = output[0].numberValue else { return nil }
        self.init(rawValue: Int(number))
    }
}

/// What the programs of a resource output for one record: `[tag, payload]`, with the item's index
/// appended under `itemsToParse`. Written by `MappingPlan`'s `program` and `fastProgram`, read by
/// `EntityMapper`.
enum MappingOutput: Int, OutputTag {
    /// `[0, entity]` (fast program) or `[0, [expression outcomes...]]` (reporting program): mapped.
    case mapped = 0
    /// `[1, null]`: the selector said `false`.
    case filteredOut = 1
    /// `[2, selector outcome]`: the selector failed, gave nothing or gave no boolean.
    case selectorProblem = 2
    /// `[3, itemsToParse outcome]`: `itemsToParse` failed or gave nothing.
    case itemsFailed = 3
    /// `[4, type name]`: `itemsToParse` gave something other than an array.
    case itemsNotArray = 4
}

/// How one user expression ended inside the reporting program (`__ocean_f`), and in the
/// one-program-per-expression strategy: `[0, first output]`, `[1, error message]` or `[2]`.
enum ExpressionOutcome: Int, OutputTag {
    case value = 0
    case error = 1
    case noOutput = 2
}
