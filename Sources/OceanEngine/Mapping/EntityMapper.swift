import OceanKit
public import JQ

/// Maps records to entities on one thread. Compiles each resource's program the first time the
/// resource is used, then reuses it for every record (never compiles per record).
public final class EntityMapper {
    /// How the expressions of a resource are run.
    public enum Strategy: Sendable {
        /// One program per resource computes the selector and every field in a single run (default).
        case combined
        /// One program per expression, each run on its own: Ocean's way, kept to measure the
        /// difference (`make bench-map`). Resources with `itemsToParse` still run combined.
        case perField
    }

    public let plan: MappingPlan
    public let strategy: Strategy
    /// Programs by resource and whether its selector applies.
    private var fastPrograms: [ProgramKey: JQProgram] = [:]
    private var reportingPrograms: [ProgramKey: JQProgram] = [:]
    private var fieldPrograms: [Int: (selector: JQProgram, fields: [JQProgram])] = [:]

    public init(plan: MappingPlan, strategy: Strategy = .combined) {
        self.plan = plan
        self.strategy = strategy
    }

    /// Parses one JSON record and maps it with the given resources.
    public func map(
        recordBytes: UnsafeRawBufferPointer, recordIndex: Int, resources: [Int], selectors: MappingPool.Selectors = .apply,
        into result: inout MappingResult
    ) {
        result.records += 1
        let record: JQValue
        do {
            record = try JQValue.parse(recordBytes)
        } catch {
            result.failed += 1
            result.report(MappingProblem(kind: .invalidRecord, recordIndex: recordIndex, itemIndex: nil, resourceIndex: nil,
                                         resourceKind: nil, field: nil, message: "not valid JSON: \(error.message.prefix(300))"))
            return
        }
        mapParsed(record, recordIndex: recordIndex, resources: resources, selectors: selectors, into: &result)
    }

    /// Maps one parsed record with the given resources.
    public func map(
        record: consuming JQValue, recordIndex: Int, resources: [Int], selectors: MappingPool.Selectors = .apply,
        into result: inout MappingResult
    ) {
        result.records += 1
        mapParsed(record, recordIndex: recordIndex, resources: resources, selectors: selectors, into: &result)
    }

    private func mapParsed(
        _ record: consuming JQValue, recordIndex: Int, resources: [Int], selectors: MappingPool.Selectors, into result: inout MappingResult
    ) {
        guard record.kind == .object else {
            result.failed += 1
            result.report(MappingProblem(kind: .invalidRecord, recordIndex: recordIndex, itemIndex: nil, resourceIndex: nil,
                                         resourceKind: nil, field: nil, message: "a record must be a JSON object, got \(record.kindName)"))
            return
        }
        for resourceIndex in resources {
            let resource = plan.resources[resourceIndex]
            let key = ProgramKey(resource: resourceIndex, selectors: selectors)
            if strategy == .perField, resource.itemsToParse == nil, selectors == .apply {
                mapPerField(record.copy(), resource: resource, recordIndex: recordIndex, into: &result)
                continue
            }
            guard let fast = fastProgram(for: key, into: &result, recordIndex: recordIndex) else { continue }
            // The fast program either maps the whole record or fails; its outputs count only if it
            // finished, otherwise the reporting program runs on the record and says what went wrong.
            var fastResult = MappingResult(problemLimit: result.problemLimit)
            do {
                try fast.run(record.copy()) { (output: consuming JQValue) in
                    self.handleFast(output, resource: resource, recordIndex: recordIndex, into: &fastResult)
                    return true
                }
                result.entities += fastResult.entities
                result.filteredOut += fastResult.filteredOut
                result.failed += fastResult.failed
                for problem in fastResult.problems { result.report(problem) }
                continue
            } catch let error as JQError where error.code.brokeTheProgram {
                // libjq crashed or hung on this record: it fails alone, and the resource's program
                // is compiled anew for the next record (the reporting one would fault the same way).
                fastPrograms[key] = nil
                result.failed += 1
                result.report(problem(.invalidRecord, resource, recordIndex, nil, nil, error.message))
                continue
            } catch {
                // Fall through to the reporting program.
            }
            guard let reporting = reportingProgram(for: key, into: &result, recordIndex: recordIndex) else { continue }
            do {
                try reporting.run(record.copy()) { (output: consuming JQValue) in
                    self.handle(output, resource: resource, recordIndex: recordIndex, into: &result)
                    return true
                }
            } catch {
                // The wrapper catches every user error; reaching here means something outside it failed.
                if reporting.isBroken { reportingPrograms[key] = nil }
                result.failed += 1
                result.report(problem(.invalidRecord, resource, recordIndex, nil, nil, "mapping failed: \(error)"))
            }
        }
    }

    /// The `perField` strategy: the same outputs as the combined program, built one expression at a time.
    private func mapPerField(_ record: consuming JQValue, resource: ResourcePlan, recordIndex: Int, into result: inout MappingResult) {
        let programs: (selector: JQProgram, fields: [JQProgram])
        if let compiled = fieldPrograms[resource.index] {
            programs = compiled
        } else {
            do {
                programs = (try JQProgram(resource.query, options: plan.options),
                            try resource.fields.map { try JQProgram($0.source, options: plan.options) })
                fieldPrograms[resource.index] = programs
            } catch {
                result.failed += 1
                result.report(problem(.invalidRecord, resource, recordIndex, nil, nil, "the mapping does not compile: \(error)"))
                return
            }
        }
        func tagged(_ program: JQProgram, _ input: consuming JQValue) -> JQValue {
            var outcome = JQValue.emptyArray()
            do {
                if let value = try program.first(input) {
                    outcome.append(ExpressionOutcome.value.value)
                    outcome.append(value)
                } else {
                    outcome.append(ExpressionOutcome.noOutput.value)
                }
            } catch {
                outcome.append(ExpressionOutcome.error.value)
                outcome.append(.string(error.message))
            }
            return outcome
        }
        defer {
            // A program lost to a libjq fault is compiled anew for the next record.
            if programs.selector.isBroken || programs.fields.contains(where: \.isBroken) { fieldPrograms[resource.index] = nil }
        }
        let selected = tagged(programs.selector, record.copy())
        var output = JQValue.emptyArray()
        let selectedOutcome = ExpressionOutcome(of: selected)
        if selectedOutcome == .value, selected[1].isTrue {
            var fields = JQValue.emptyArray()
            for program in programs.fields { fields.append(tagged(program, record.copy())) }
            output.append(MappingOutput.mapped.value)
            output.append(fields)
        } else if selectedOutcome == .value, selected[1].boolValue == false {
            output.append(MappingOutput.filteredOut.value)
            output.append(.null)
        } else {
            output.append(MappingOutput.selectorProblem.value)
            output.append(selected)
        }
        handle(output, resource: resource, recordIndex: recordIndex, into: &result)
    }

    /// The fast program of a resource, compiled on first use.
    private func fastProgram(for key: ProgramKey, into result: inout MappingResult, recordIndex: Int) -> JQProgram? {
        compiled(&fastPrograms, key, key.selectors == .apply ? \.fastProgramSource : \.identifyingFastProgramSource,
                 into: &result, recordIndex: recordIndex)
    }

    /// The reporting program, compiled on the first record that needs it: a mapping without
    /// problems never pays for it.
    private func reportingProgram(for key: ProgramKey, into result: inout MappingResult, recordIndex: Int) -> JQProgram? {
        compiled(&reportingPrograms, key, key.selectors == .apply ? \.programSource : \.identifyingProgramSource,
                 into: &result, recordIndex: recordIndex)
    }

    private func compiled(
        _ cache: inout [ProgramKey: JQProgram], _ key: ProgramKey, _ source: KeyPath<ResourcePlan, String>,
        into result: inout MappingResult, recordIndex: Int
    ) -> JQProgram? {
        if let program = cache[key] { return program }
        let resource = plan.resources[key.resource]
        do {
            let program = try JQProgram(resource[keyPath: source], options: plan.options)
            cache[key] = program
            return program
        } catch {
            result.failed += 1
            result.report(problem(.invalidRecord, resource, recordIndex, nil, nil, "the mapping does not compile: \(error)"))
            return nil
        }
    }

    /// An output of the fast program: `[0, entity]` or `[1, null]`, then the item index under itemsToParse.
    private func handleFast(_ output: consuming JQValue, resource: ResourcePlan, recordIndex: Int, into result: inout MappingResult) {
        if MappingOutput(of: output) == .mapped {
            let itemIndex = resource.itemsToParse == nil ? nil : output[2].numberValue.map { Int($0) }
            keep(output[1], resource: resource, recordIndex: recordIndex, itemIndex: itemIndex, into: &result)
        } else {
            result.filteredOut += 1
        }
    }

    private func handle(_ output: consuming JQValue, resource: ResourcePlan, recordIndex: Int, into result: inout MappingResult) {
        let tag = MappingOutput(of: output)
        let itemIndex = resource.itemsToParse == nil ? nil : output[2].numberValue.map { Int($0) }
        switch tag {
        case .mapped:
            let fieldResults = output[1]
            assemble(fieldResults, resource: resource, recordIndex: recordIndex, itemIndex: itemIndex, into: &result)
        case .filteredOut:
            result.filteredOut += 1
        case .selectorProblem:
            result.failed += 1
            let selectorResult = output[1]
            let message: String
            switch ExpressionOutcome(of: selectorResult) {
            case .value: message = "must give a boolean, got \(selectorResult[1].described)"
            case .error: message = JQProgramMessages.text(selectorResult[1])
            case .noOutput, nil: message = "gave no value (it must give a boolean)"
            }
            result.report(problem(.selector, resource, recordIndex, itemIndex, "selector.query", message))
        case .itemsFailed:
            result.failed += 1
            let itemsResult = output[1]
            let message = ExpressionOutcome(of: itemsResult) == .error ? JQProgramMessages.text(itemsResult[1]) : "gave no value (it must give an array)"
            result.report(problem(.itemsToParse, resource, recordIndex, nil, "port.itemsToParse", message))
        case .itemsNotArray:
            result.failed += 1
            let type = output[1].stringValue ?? "?"
            result.report(problem(.itemsToParse, resource, recordIndex, nil, "port.itemsToParse", "must give an array, got \(type)"))
        case nil:
            result.failed += 1
            result.report(problem(.invalidRecord, resource, recordIndex, itemIndex, nil, "unexpected mapping output \(output.jsonText().prefix(80))"))
        }
    }

    /// Builds the entity from the field results, reporting fields that failed, and keeps it when it
    /// has an identifier and a blueprint.
    private func assemble(
        _ fieldResults: borrowing JQValue, resource: ResourcePlan, recordIndex: Int, itemIndex: Int?, into result: inout MappingResult
    ) {
        var misconfigured: [(field: String, message: String)] = []
        let entity = build(resource.template, from: fieldResults, resource: resource, misconfigured: &misconfigured)
        result.misconfiguredFields += misconfigured.count
        for field in misconfigured {
            result.report(problem(.misconfiguredField, resource, recordIndex, itemIndex, field.field, field.message))
        }
        keep(entity, resource: resource, recordIndex: recordIndex, itemIndex: itemIndex, into: &result)
    }

    /// Keeps the entity when it has an identifier and a blueprint; otherwise reports it dropped.
    private func keep(
        _ entity: consuming JQValue, resource: ResourcePlan, recordIndex: Int, itemIndex: Int?, into result: inout MappingResult
    ) {
        let identifierValue = entity["identifier"]
        let identifier: String
        switch identifierValue.kind {
        case .string where identifierValue.count > 0:
            identifier = identifierValue.stringValue ?? ""
        case .object:
            identifier = identifierValue.jsonText()
        default:
            result.failed += 1
            result.report(problem(.droppedEntity, resource, recordIndex, itemIndex, "identifier",
                                  "the entity is dropped: identifier must be a non-empty string (or a search object), got \(identifierValue.described)"))
            return
        }
        let blueprintValue = entity["blueprint"]
        guard let blueprint = blueprintValue.stringValue, !blueprint.isEmpty else {
            result.failed += 1
            result.report(problem(.droppedEntity, resource, recordIndex, itemIndex, "blueprint",
                                  "the entity is dropped: blueprint must be a non-empty string, got \(blueprintValue.described)"))
            return
        }
        var json: [UInt8] = []
        entity.appendJSON(to: &json)
        result.entities.append(MappedEntity(resourceIndex: resource.index, blueprint: blueprint, identifier: identifier, json: json))
    }

    private func build(
        _ template: EntityTemplate, from results: borrowing JQValue, resource: ResourcePlan,
        misconfigured: inout [(field: String, message: String)]
    ) -> JQValue {
        switch template {
        case .field(let index):
            let tagged = results[index]
            switch ExpressionOutcome(of: tagged) {
            case .value:
                return tagged[1]
            case .error:
                misconfigured.append((resource.fields[index].path, JQProgramMessages.text(tagged[1])))
            case .noOutput, nil:
                misconfigured.append((resource.fields[index].path, "gave no value"))
            }
            return .null
        case .object(let members):
            var object = JQValue.emptyObject()
            for member in members {
                object.set(member.key, build(member.value, from: results, resource: resource, misconfigured: &misconfigured))
            }
            return object
        case .array(let elements):
            var array = JQValue.emptyArray()
            for element in elements {
                array.append(build(element, from: results, resource: resource, misconfigured: &misconfigured))
            }
            return array
        }
    }

    private func problem(
        _ kind: MappingProblem.Kind, _ resource: ResourcePlan, _ recordIndex: Int, _ itemIndex: Int?, _ field: String?, _ message: String
    ) -> MappingProblem {
        MappingProblem(kind: kind, recordIndex: recordIndex, itemIndex: itemIndex, resourceIndex: resource.index,
                       resourceKind: resource.kind, field: field, message: message)
    }
}

/// A resource's program, with its selector or without.
private struct ProgramKey: Hashable {
    let resource: Int
    let selectors: MappingPool.Selectors
}

/// jq error payloads as text: a string as is, anything else as JSON.
enum JQProgramMessages {
    static func text(_ value: borrowing JQValue) -> String {
        value.stringValue.map { String($0.prefix(500)) } ?? "\(value.jsonText().prefix(200)) (not a string)"
    }
}

extension JQValue {
    /// "null", or the kind and a short JSON excerpt: `number 3`, `string "x"`.
    var described: String {
        kind == .null ? "null" : "\(kindName) \(jsonText().prefix(60))"
    }
}
