public import OceanKit

/// The `fake` integration, modelled on Ocean's own: 5 departments and `ENTITY_AMOUNT` persons per
/// department, generated deterministically (the same settings give the same records; a smaller
/// amount gives a subset of them, so deletions can be observed).
///
/// Settings (`OCEAN__INTEGRATION__CONFIG__...`): `ENTITY_AMOUNT` (default 20), `ENTITY_KB_SIZE` KiB of
/// bio per person (default 1), `THIRD_PARTY_BATCH_SIZE` records a page (default 1000),
/// `THIRD_PARTY_LATENCY_MS` per page (default 0), `CHANGED_PERCENT` of the persons a year older
/// (default 0: a resync that finds that share changed).
public enum FakeIntegration {
    public enum ObjectKind: String, CaseIterable, Sendable {
        case department = "fake-department"
        case person = "fake-person"
    }

    /// The departments: `{"id","name"}`.
    public static let departments: [(id: String, name: String)] = [
        ("hr", "Human Resources"), ("marketing", "Marketing"), ("finance", "Finance"),
        ("support", "Support"), ("engineering", "Engineering"),
    ]

    /// The integration, with its handlers registered.
    public static func make() -> OceanIntegration {
        let ocean = OceanIntegration(type: "fake", defaultMapping: defaultMapping, spec: spec,
                                     resources: PortResources(blueprints: blueprints))
        ocean.onResync(ObjectKind.department) { _ in
            let records = departments.map { department -> JSON in
                .object(["id": .string(department.id), "name": .string(department.name)])
            }
            return SinglePage(records: records)
        }
        ocean.onResync(ObjectKind.person) { context in
            try FakePersonPages(settings: FakeSettings(context.integrationConfig))
        }
        ocean.addWebhookProcessor("/webhook", FakePersonWebhook())
        return ocean
    }

    /// The blueprints it creates in a Port organisation that has none of them (the same text as
    /// `.port/resources/blueprints.json`; a test keeps them equal).
    public static let blueprints = """
        [
          {
            "identifier": "fake-department",
            "title": "Fake Department",
            "icon": "Blueprint",
            "schema": {
              "properties": {
                "name": {"type": "string", "title": "Name"},
                "id": {"type": "string", "title": "Id"}
              },
              "required": []
            },
            "relations": {}
          },
          {
            "identifier": "fake-person",
            "title": "Fake Person",
            "icon": "Blueprint",
            "schema": {
              "properties": {
                "name": {"type": "string", "title": "Name"},
                "email": {"type": "string", "format": "email", "title": "Email"},
                "status": {"type": "string", "enum": ["WORKING", "NOPE"], "title": "Status"},
                "age": {"type": "number", "title": "Age"},
                "department": {"type": "string", "title": "Department"},
                "bio": {"type": "string", "title": "Bio"}
              },
              "required": []
            },
            "relations": {
              "department": {"title": "Department", "target": "fake-department", "required": false, "many": false}
            }
          }
        ]

        """

    /// The default mapping (the same text as `.port/resources/port-app-config.yml`; a test keeps them equal).
    public static let defaultMapping = """
        resources:
          - kind: fake-department
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"fake-department"'
                  properties:
                    name: .name
                    id: .id
          - kind: fake-person
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"fake-person"'
                  properties:
                    name: .name
                    email: .email
                    status: .status
                    age: .age
                    department: .department.name
                    bio: .bio
                  relations:
                    department: .department.id

        """
}

/// The fake API's settings, read and checked once per run.
struct FakeSettings: Sendable {
    let amount: Int
    let kilobytes: Int
    let batchSize: Int
    let latencyMilliseconds: Int
    let changedPercent: Int

    init(_ config: IntegrationConfig) throws(ConfigurationError) {
        amount = try config.int("entity_amount", default: 20, in: 0...100_000_000)
        kilobytes = try config.int("entity_kb_size", default: 1, in: 0...1024)
        batchSize = try config.int("third_party_batch_size", default: 1000, in: 1...100_000)
        latencyMilliseconds = try config.int("third_party_latency_ms", default: 0, in: 0...600_000)
        changedPercent = try config.int("changed_percent", default: 0, in: 0...100)
    }
}

/// The persons of every department, page by page, written straight as JSON text (a person is
/// `{"id","name","email","age","status","bio","department":{"id","name"}}`, `id` = `<department>-<n>`).
struct FakePersonPages: AsyncSequence, Sendable {
    typealias Element = RecordBatch
    let settings: FakeSettings

    func makeAsyncIterator() -> Iterator { Iterator(settings: settings) }

    struct Iterator: AsyncIteratorProtocol {
        let settings: FakeSettings
        var department = 0
        var nextPerson = 0
        let bio: [UInt8]

        init(settings: FakeSettings) {
            self.settings = settings
            bio = FakePersonPages.bioText(bytes: settings.kilobytes * 1024)
        }

        mutating func next() async throws -> RecordBatch? {
            while department < FakeIntegration.departments.count && nextPerson >= settings.amount {
                department += 1
                nextPerson = 0
            }
            guard department < FakeIntegration.departments.count else { return nil }
            if settings.latencyMilliseconds > 0 {
                try await Task.sleep(for: .milliseconds(settings.latencyMilliseconds))
            }
            try Task.checkCancellation()
            var batch = RecordBatch()
            let end = Swift.min(settings.amount, nextPerson + settings.batchSize)
            batch.bytes.reserveCapacity((end - nextPerson) * (bio.count + 200))
            let owner = FakeIntegration.departments[department]
            for n in nextPerson..<end {
                let start = batch.bytes.count
                FakePersonPages.writePerson(n, department: owner, bio: bio, older: n % 100 < settings.changedPercent, to: &batch.bytes)
                batch.ranges.append(start..<batch.bytes.count)
                batch.indexes.append(batch.indexes.count)
            }
            nextPerson = end
            return batch
        }
    }

    static let firstNames = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
    static let lastNames = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee"]

    /// Every field is a function of (department, n): the same settings always give the same records.
    /// `older`: a year older than by default (`CHANGED_PERCENT`).
    static func writePerson(_ n: Int, department: (id: String, name: String), bio: [UInt8], older: Bool = false, to out: inout [UInt8]) {
        let seed = n &* 2654435761 &+ department.id.utf8.count
        let name = "\(firstNames[seed % firstNames.count]) \(lastNames[(seed / 7) % lastNames.count])"
        let id = "\(department.id)-\(n)"
        out.append(contentsOf: #"{"id":""#.utf8)
        out.append(contentsOf: id.utf8)
        out.append(contentsOf: #"","name":""#.utf8)
        out.append(contentsOf: name.utf8)
        out.append(contentsOf: #"","email":""#.utf8)
        out.append(contentsOf: "\(id)@fake.example.com".utf8)
        out.append(contentsOf: #"","age":"#.utf8)
        out.append(contentsOf: String(20 + seed % 45 + (older ? 1 : 0)).utf8)
        out.append(contentsOf: #","status":""#.utf8)
        out.append(contentsOf: (seed % 5 == 0 ? "NOPE" : "WORKING").utf8)
        out.append(contentsOf: #"","bio":""#.utf8)
        out.append(contentsOf: bio)
        out.append(contentsOf: #"","department":{"id":""#.utf8)
        out.append(contentsOf: department.id.utf8)
        out.append(contentsOf: #"","name":""#.utf8)
        out.append(contentsOf: department.name.utf8)
        out.append(contentsOf: #""}}"#.utf8)
    }

    /// `bytes` of plain ASCII text (no character that needs escaping in JSON).
    static func bioText(bytes: Int) -> [UInt8] {
        let words = Array("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ".utf8)
        return (0..<bytes).map { words[$0 % words.count] }
    }
}

extension FakeIntegration {
    /// The spec (the same text as `.port/spec.yaml`; a test keeps them equal).
    public static let spec = """
        type: fake
        description: A synthetic integration with deterministic departments and persons, for trying swift-ocean and measuring it.
        icon: Port
        features:
          - type: exporter
            section: Other
            resources:
              - kind: fake-department
              - kind: fake-person
        configurations:
          - name: entityAmount
            type: integer
            required: false
            default: 20
            description: Persons per department (5 departments).
          - name: entityKbSize
            type: integer
            required: false
            default: 1
            description: KiB of bio text per person.
          - name: thirdPartyBatchSize
            type: integer
            required: false
            default: 1000
            description: Records per page of the fake third-party API.
          - name: thirdPartyLatencyMs
            type: integer
            required: false
            default: 0
            description: Milliseconds each page takes to "fetch".
          - name: changedPercent
            type: integer
            required: false
            default: 0
            description: Percent of the persons that are a year older than by default (to measure resyncs that find a few changed).
          - name: webhookSecret
            type: string
            required: false
            sensitive: true
            description: Secret of the X-Hub-Signature-256 webhook signature.

        """
}
