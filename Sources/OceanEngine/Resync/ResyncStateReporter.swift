import OceanKit



/// Told when jobs start and finish (Port's resync state).
public protocol ResyncStateReporter: Sendable {
    func jobStarted(_ job: Job) async
    func jobFinished(_ job: Job) async
}
