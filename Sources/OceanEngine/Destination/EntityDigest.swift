import Crypto
public import OceanKit

/// What was written, in 128 bits: a digest of a mapped entity's canonical JSON (object keys sorted
/// at every depth, so a source that reorders its fields does not look changed) together with the
/// digest of what wrote it (the resource's mapping and the write options), so a mapping change makes
/// every entity of the resource look changed.
public enum EntityDigest {
    /// The digest of `entity` written under `writer` (`writerDigest(of:in:)`).
    public static func of(_ entity: MappedEntity, writer: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(writer.utf8))
        hasher.update(data: [0])
        hasher.update(data: canonical(entity.json))
        return hex(hasher.finalize().prefix(16))
    }

    /// The digest of how a resource writes: its kind, selector, items and mappings, and the
    /// mapping's `enableMergeEntity` and `createMissingRelatedEntities`.
    public static func writerDigest(of resource: ResourceConfig, in config: PortAppConfig) -> String {
        let description = JSON.object([
            "kind": .string(resource.kind), "query": .string(resource.query), "selector": .object(resource.selector),
            "itemsToParse": resource.itemsToParse.map(JSON.string) ?? .null, "itemsToParseName": .string(resource.itemsToParseName),
            "itemsToParseTopLevelTransform": .bool(resource.itemsToParseTopLevelTransform), "mappings": .object(resource.mappings),
            "merge": .bool(config.enableMergeEntity), "createMissingRelatedEntities": .bool(config.createMissingRelatedEntities),
        ])
        return hex(SHA256.hash(data: canonical(Array(description.jsonText.utf8))).prefix(16))
    }

    private static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// `json` (valid, compact or not) with every object's keys sorted by their bytes and whitespace
    /// dropped; strings and numbers are kept as written.
    static func canonical(_ json: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(json.count)
        json.withUnsafeBufferPointer { input in
            var position = 0
            Canonicalizer(input: input).value(at: &position, into: &output)
        }
        return output
    }
}

/// A one-pass walk over JSON bytes that writes them back with sorted object keys.
private struct Canonicalizer {
    let input: UnsafeBufferPointer<UInt8>

    func skipSpace(_ position: inout Int) {
        while position < input.count, input[position] == 0x20 || input[position] == 0x0A || input[position] == 0x0D || input[position] == 0x09 {
            position += 1
        }
    }

    func value(at position: inout Int, into output: inout [UInt8]) {
        skipSpace(&position)
        guard position < input.count else { return }
        switch input[position] {
        case UInt8(ascii: "{"):
            position += 1
            var members: [(key: ArraySlice<UInt8>, value: [UInt8])] = []
            while true {
                skipSpace(&position)
                guard position < input.count else { break }
                if input[position] == UInt8(ascii: "}") { position += 1; break }
                if input[position] == UInt8(ascii: ",") { position += 1; continue }
                let keyStart = position
                string(at: &position)
                let key = ArraySlice(input[keyStart..<position])
                skipSpace(&position)
                if position < input.count, input[position] == UInt8(ascii: ":") { position += 1 }
                var member: [UInt8] = []
                value(at: &position, into: &member)
                members.append((key, member))
            }
            members.sort { $0.key.lexicographicallyPrecedes($1.key) }
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                output.append(contentsOf: member.key)
                output.append(UInt8(ascii: ":"))
                output.append(contentsOf: member.value)
            }
            output.append(UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            position += 1
            output.append(UInt8(ascii: "["))
            var first = true
            while true {
                skipSpace(&position)
                guard position < input.count else { break }
                if input[position] == UInt8(ascii: "]") { position += 1; break }
                if input[position] == UInt8(ascii: ",") { position += 1; continue }
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                value(at: &position, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case UInt8(ascii: "\""):
            let start = position
            string(at: &position)
            output.append(contentsOf: input[start..<position])
        default:
            // A number, true, false or null: up to the next delimiter.
            let start = position
            while position < input.count {
                let byte = input[position]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { break }
                position += 1
            }
            output.append(contentsOf: input[start..<position])
        }
    }

    /// Moves past one string (its quotes included), escapes and all.
    func string(at position: inout Int) {
        guard position < input.count, input[position] == UInt8(ascii: "\"") else { return }
        position += 1
        while position < input.count {
            let byte = input[position]
            position += 1
            if byte == UInt8(ascii: "\\") { position += 1 } else if byte == UInt8(ascii: "\"") { return }
        }
    }
}
