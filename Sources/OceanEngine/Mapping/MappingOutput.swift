import JQ

/// What the generated jq programs of a resource output for one record, and how it is read back:
/// `[tag, payload]`, with the item's index appended under `itemsToParse`. The programs are written
/// with these tags (`MappingPlan`'s `program` and `fastProgram`) and read with `init(of:)`
/// (`EntityMapper`): one definition for both sides.
enum MappingOutput: Int {
    /// `[0, entity]` (fast program) or `[0, [field outcomes...]]` (reporting program): mapped.
    case mapped = 0
    /// `[1, null]`: the selector said `false`.
    case filteredOut = 1
    /// `[2, selector outcome]`: the selector failed, gave nothing or gave no boolean.
    case selectorProblem = 2
    /// `[3, itemsToParse outcome]`: `itemsToParse` failed or gave nothing.
    case itemsFailed = 3
    /// `[4, type name]`: `itemsToParse` gave something other than an array.
    case itemsNotArray = 4

    /// The tag as it is written in jq.
    var jq: String { String(rawValue) }

    /// The tag as a jq value (for outputs built in Swift).
    var value: JQValue { .number(Double(rawValue)) }

    /// The tag of a program's output; nil when it has none of these.
    init?(of output: borrowing JQValue) {
        guard let number = output[0].numberValue, let tag = MappingOutput(rawValue: Int(number)) else { return nil }
        self = tag
    }
}

/// How one user expression ended inside the reporting program (`__ocean_f`), and in the
/// one-program-per-expression strategy: `[0, first output]`, `[1, error message]` or `[2]`.
enum ExpressionOutcome: Int {
    case value = 0
    case error = 1
    case noOutput = 2

    /// The tag as it is written in jq.
    var jq: String { String(rawValue) }

    /// The tag as a jq value (for outcomes built in Swift).
    var value: JQValue { .number(Double(rawValue)) }

    init?(of outcome: borrowing JQValue) {
        guard let number = outcome[0].numberValue, let tag = ExpressionOutcome(rawValue: Int(number)) else { return nil }
        self = tag
    }
}
