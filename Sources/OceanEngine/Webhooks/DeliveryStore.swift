import OceanKit
import Essentials
import FoundationEssentials

/// The durable queue of deliveries.
///
/// Contract: `insert` is durable when it returns (the delivery survives a crash), and throws when it
/// cannot be made durable (a full disk, a removed or read-only file); `waiting` returns
/// every pending or failed delivery, oldest first (read once at start); `update` replaces the
/// stored state; `list` is newest first; `prune` keeps at most `keepFinished` done and dead deliveries.
public protocol DeliveryStore: Sendable {
    func insert(_ delivery: Delivery) async throws
    /// The stored delivery with this idempotency key, if any.
    func delivery(idempotencyKey: String) async throws -> Delivery?
    func waiting() async throws -> [Delivery]
    func update(_ delivery: Delivery) async throws
    func delivery(_ id: String) async throws -> Delivery?
    func list(status: Delivery.Status?, limit: Int) async throws -> [Delivery]
    func prune(keepFinished: Int) async throws
}
