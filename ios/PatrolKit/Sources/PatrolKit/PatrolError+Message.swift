import Foundation

// The generated PatrolError is already a LocalizedError, but its errorDescription is the
// debug form of the case; `message` is the sentence the engine wrote for people.
extension PatrolError {
    /// The sentence to show staff, Chinese then English ("中文 / English").
    public var message: String {
        switch self {
        case let .Label(message), let .Refused(message), let .Network(message),
             let .SignedOut(message), let .Cancelled(message), let .StorageFull(message),
             let .Internal(message):
            return message
        }
    }

    /// Whether trying again later may work by itself (network back, a cancelled sync). A full
    /// phone needs the person to free space first.
    public var isRetryable: Bool {
        switch self {
        case .Network, .Cancelled:
            return true
        case .Label, .Refused, .SignedOut, .StorageFull, .Internal:
            return false
        }
    }

    /// Whether the user has to sign in (again).
    public var needsSignIn: Bool {
        if case .SignedOut = self {
            return true
        }
        return false
    }

    /// Any error from an engine call as a PatrolError (the engine only throws PatrolError; a
    /// task cancellation or a failure of the bindings themselves becomes one too).
    public static func from(_ error: Error) -> PatrolError {
        if let patrolError = error as? PatrolError {
            return patrolError
        }
        if error is CancellationError {
            return .Cancelled(message: "已取消 / Cancelled")
        }
        return .Internal(message: "应用内部错误 / Internal error: \(error.localizedDescription)")
    }
}
