/// The shape of every domain error in the project: an opaque code to match on (a struct with a
/// private enum inside, so new codes never break a caller's `switch`) and a message for people.
/// The server turns codes into HTTP statuses in one place.
public protocol CodedError: Error, Sendable, CustomStringConvertible {
    associatedtype Code: Hashable & Sendable & CustomStringConvertible
    var code: Code { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { message }
}
