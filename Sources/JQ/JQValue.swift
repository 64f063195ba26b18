import CJQ

/// An owned jq value (`jv`): freed exactly once, when the owner is done with it.
///
/// Most libjq calls consume their `jv` argument; `~Copyable` makes "consumed exactly once" a rule the
/// compiler checks: pass `take()` to a consuming C call, `copy()` when the value must live on.
/// Values are reference-counted without atomics: a value (and its copies) belongs to one thread.
public struct JQValue: ~Copyable {
    private var raw: jv

    /// Takes ownership of `raw`.
    init(owning raw: jv) {
        self.raw = raw
    }

    deinit {
        jv_free(raw)
    }

    /// Gives up ownership: the caller must hand the `jv` to a consuming call.
    consuming func take() -> jv {
        let value = raw
        discard self
        return value
    }

    /// A new owner of the same value (a reference-count increment, no deep copy).
    public borrowing func copy() -> JQValue {
        JQValue(owning: jv_copy(raw))
    }

    // MARK: Making values

    public static var null: JQValue { JQValue(owning: jv_null()) }

    public static func string(_ text: String) -> JQValue {
        JQValue(owning: text.withCString { jv_string($0) })
    }

    public static func number(_ value: Double) -> JQValue {
        JQValue(owning: jv_number(value))
    }

    public static func bool(_ value: Bool) -> JQValue {
        JQValue(owning: value ? jv_true() : jv_false())
    }

    public static func emptyArray() -> JQValue { JQValue(owning: jv_array()) }
    public static func emptyObject() -> JQValue { JQValue(owning: jv_object()) }

    /// Parses one JSON text. Invalid UTF-8 is refused here (jq would silently replace it).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JQError) -> JQValue {
        let parsed = try parseRaw(bytes)
        return JQValue(owning: parsed)
    }

    private static func parseRaw(_ bytes: UnsafeRawBufferPointer) throws(JQError) -> jv {
        guard let base = bytes.baseAddress, bytes.count > 0 else { throw JQError(.invalidJSON, "empty input") }
        guard bytes.count <= Int(Int32.max) else { throw JQError(.invalidJSON, "a single JSON text over 2 GiB") }
        if let offset = UTF8Validation.firstInvalidOffset(bytes) {
            throw JQError(.invalidJSON, "invalid UTF-8 at byte \(offset)")
        }
        let parsed = jv_parse_sized(base.assumingMemoryBound(to: CChar.self), Int32(bytes.count))
        if jv_get_kind(parsed) == JV_KIND_INVALID {
            let message = JQValue(owning: jv_invalid_get_msg(parsed))
            throw JQError(.invalidJSON, message.stringValue ?? "invalid JSON")
        }
        return parsed
    }

    /// Parses one JSON text.
    public static func parse(_ text: String) throws(JQError) -> JQValue {
        var text = text
        let parsed = text.withUTF8 { buffer in
            Result { () throws(JQError) -> jv in try parseRaw(UnsafeRawBufferPointer(buffer)) }
        }
        return JQValue(owning: try parsed.get())
    }

    // MARK: Reading values

    /// The kind of value.
    public enum Kind: Sendable, Equatable {
        case null, boolean, number, string, array, object
    }

    public var kind: Kind {
        switch jv_get_kind(raw) {
        case JV_KIND_NULL: .null
        case JV_KIND_TRUE, JV_KIND_FALSE: .boolean
        case JV_KIND_NUMBER: .number
        case JV_KIND_STRING: .string
        case JV_KIND_ARRAY: .array
        case JV_KIND_OBJECT: .object
        default: .null
        }
    }

    /// jq's name for the kind (`"string"`, `"object"`, ...), as in its messages.
    public var kindName: String {
        String(cString: jv_kind_name(jv_get_kind(raw)))
    }

    public var isTrue: Bool { jv_get_kind(raw) == JV_KIND_TRUE }

    public var boolValue: Bool? {
        switch jv_get_kind(raw) {
        case JV_KIND_TRUE: true
        case JV_KIND_FALSE: false
        default: nil
        }
    }

    public var stringValue: String? {
        guard jv_get_kind(raw) == JV_KIND_STRING else { return nil }
        let length = Int(jv_string_length_bytes(jv_copy(raw)))
        return jv_string_value(raw).withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }

    public var numberValue: Double? {
        jv_get_kind(raw) == JV_KIND_NUMBER ? jv_number_value(raw) : nil
    }

    public var count: Int {
        switch jv_get_kind(raw) {
        case JV_KIND_ARRAY: Int(jv_array_length(jv_copy(raw)))
        case JV_KIND_OBJECT: Int(jv_object_length(jv_copy(raw)))
        case JV_KIND_STRING: Int(jv_string_length_codepoints(jv_copy(raw)))
        default: 0
        }
    }

    /// Element `index` of an array (null when out of range or not an array).
    public subscript(index: Int) -> JQValue {
        guard jv_get_kind(raw) == JV_KIND_ARRAY else { return .null }
        let element = jv_array_get(jv_copy(raw), Int32(index))
        return jv_get_kind(element) == JV_KIND_INVALID ? JQValue(owning: jv_null()) : JQValue(owning: element)
    }

    /// Member `key` of an object (null when absent or not an object).
    public subscript(key: String) -> JQValue {
        guard jv_get_kind(raw) == JV_KIND_OBJECT else { return .null }
        let member = key.withCString { jv_object_get(jv_copy(raw), jv_string($0)) }
        return jv_get_kind(member) == JV_KIND_INVALID ? JQValue(owning: jv_null()) : JQValue(owning: member)
    }

    /// Calls `body` with each key and value of an object, in order.
    public borrowing func forEachMember(_ body: (String, consuming JQValue) throws -> Void) rethrows {
        guard jv_get_kind(raw) == JV_KIND_OBJECT else { return }
        var iterator = jv_object_iter(raw)
        while jv_object_iter_valid(raw, iterator) != 0 {
            let key = JQValue(owning: jv_object_iter_key(raw, iterator))
            let value = JQValue(owning: jv_object_iter_value(raw, iterator))
            try body(key.stringValue ?? "", value)
            iterator = jv_object_iter_next(raw, iterator)
        }
    }

    // MARK: Changing values

    /// Sets member `key` of an object.
    public mutating func set(_ key: String, _ value: consuming JQValue) {
        let object = raw
        let member = value.take()
        raw = key.withCString { jv_object_set(object, jv_string($0), member) }
    }

    /// Appends to an array.
    public mutating func append(_ value: consuming JQValue) {
        raw = jv_array_append(raw, value.take())
    }

    // MARK: Writing

    /// Compact JSON text (jq's `tojson`), keys in insertion order.
    public borrowing func jsonText() -> String {
        let dumped = JQValue(owning: jv_dump_string(jv_copy(raw), 0))
        return dumped.stringValue ?? "null"
    }

    /// Appends compact JSON bytes to `output`.
    public borrowing func appendJSON(to output: inout [UInt8]) {
        let dumped = jv_dump_string(jv_copy(raw), 0)
        let length = Int(jv_string_length_bytes(jv_copy(dumped)))
        jv_string_value(dumped).withMemoryRebound(to: UInt8.self, capacity: length) {
            output.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
        }
        jv_free(dumped)
    }
}

/// UTF-8 validation with an ASCII fast path (records are mostly ASCII).
enum UTF8Validation {
    /// The offset of the first byte that is not part of valid UTF-8, or nil when all is valid.
    static func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            // Eight ASCII bytes at a time.
            if index + 8 <= count {
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if word & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                    continue
                }
            }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            let minimum: UInt32
            switch lead {
            case 0xC2...0xDF: length = 2; minimum = 0x80
            case 0xE0...0xEF: length = 3; minimum = 0x800
            case 0xF0...0xF4: length = 4; minimum = 0x10000
            default: return index
            }
            guard index + length <= count else { return index }
            var scalar = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
            for offset in 1..<length {
                let continuation = bytes[index + offset]
                guard continuation & 0xC0 == 0x80 else { return index }
                scalar = scalar << 6 | UInt32(continuation & 0x3F)
            }
            guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { return index }
            index += length
        }
        return nil
    }
}
