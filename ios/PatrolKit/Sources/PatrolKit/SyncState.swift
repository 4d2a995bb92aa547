import Foundation

/// Where syncing is, for the sync status screen.
public enum SyncState: Equatable {
    /// No sync since the app started.
    case idle
    /// Under way: `phase` is nil before the first step; for pulls `total` is 0 (unknown).
    case running(phase: SyncPhase?, done: UInt64, total: UInt64)
    /// The last sync finished at `at`.
    case done(SyncSummary, at: Date)
    /// The last sync stopped: the error says why.
    case failed(PatrolError)

    /// Whether a sync is under way.
    public var isRunning: Bool {
        if case .running = self {
            return true
        }
        return false
    }

    /// Whether a later sync may work by itself (the network came back, it was cancelled).
    public var isRetryable: Bool {
        if case let .failed(error) = self {
            return error.isRetryable
        }
        return false
    }
}
