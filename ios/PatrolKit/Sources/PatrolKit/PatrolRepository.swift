import Combine
import Foundation

/// Where every blocking engine call runs: off the main thread and off Swift's cooperative pool
/// (a sync may block for minutes on a slow network).
private let engineQueue = DispatchQueue(
    label: "app.patrol.kit.engine",
    qos: .userInitiated,
    attributes: .concurrent
)

/// What the screens use: the generated ``PatrolApp`` with every call moved off the main thread,
/// sync state as a published property, and answers shaped the way the checklist screen asks
/// them. The Swift twin of the Android `PatrolRepository`.
///
/// Errors are the generated ``PatrolError``s; their ``PatrolError/message`` is for people
/// (Chinese / English).
@MainActor
public final class PatrolRepository: ObservableObject {
    /// The phone's engine. Every method blocks: call it through this repository.
    public let app: PatrolApp

    /// The current or last sync, for the sync status screen.
    @Published public private(set) var syncState: SyncState = .idle

    /// The handle of the sync under way, to stop it.
    private var runningCancel: SyncCancel?
    /// One sync at a time: whether one holds the turn, and who waits for it.
    private var syncBusy = false
    private var syncWaiters: [CheckedContinuation<Void, Never>] = []

    public init(app: PatrolApp) {
        self.app = app
    }

    /// Open the phone's engine in `directory` (a database and a photo folder beside it) for
    /// the server at `serverURL`.
    public static func open(directory: URL, serverURL: String) throws -> PatrolRepository {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let database = directory.appendingPathComponent("patrol.db", isDirectory: false)
        let engine: PatrolApp = try PatrolApp.open(dbPath: database.path, serverUrl: serverURL)
        return PatrolRepository(app: engine)
    }

    // MARK: - Session

    /// Sign in (needs the network once; then the phone works offline).
    public func signIn(username: String, password: String) async throws -> Session {
        let name = username.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await run { app in try app.login(username: name, password: password) }
    }

    /// Who is signed in, if anyone.
    public func session() async throws -> Session? {
        try await run { app in try app.session() }
    }

    /// Sign out; work not yet sent stays queued for the next sync of the same user.
    public func signOut() async throws {
        try await run { app in try app.signOut() }
    }

    // MARK: - Rounds

    public func routesToday() async throws -> [RouteToday] {
        try await run { app in try app.routesToday() }
    }

    /// Start a round; returns its id.
    public func startRound(routeId: String) async throws -> String {
        try await run { app in try app.startRound(routeId: routeId) }
    }

    /// A label the camera read; throws ``PatrolError/Label(message:)`` for a forged, damaged or
    /// foreign one.
    public func scan(runId: String, token: String) async throws -> Scan {
        let label = token.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await run { app in try app.scan(runId: runId, token: label) }
    }

    /// No label to scan (torn off, unreachable): the visit is kept with its reason.
    public func visitWithoutLabel(runId: String, checkpointId: String, reason: String) async throws -> Scan {
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await run { app in
            try app.visitManually(runId: runId, checkpointId: checkpointId, reason: why)
        }
    }

    /// Answer one item; the engine judges readings against their normal range and returns the
    /// outcome it recorded.
    public func answer(visitId: String, item: ChecklistItem, answer: ItemAnswer) async throws -> Outcome {
        let itemKey = item.key
        return try await run { (app: PatrolApp) -> Outcome in
            switch answer {
            case let .mark(outcome, note, photos):
                return try app.answer(
                    visitId: visitId, itemKey: itemKey, outcome: outcome, reading: nil,
                    note: note, photos: photos
                )
            case let .reading(value, note, photos):
                return try app.answer(
                    visitId: visitId, itemKey: itemKey, outcome: nil, reading: value,
                    note: note, photos: photos
                )
            case let .text(text, photos):
                return try app.answer(
                    visitId: visitId, itemKey: itemKey, outcome: nil, reading: nil,
                    note: text, photos: photos
                )
            }
        }
    }

    /// Keep a camera picture (JPEG) or a signature (PNG); returns the photo id.
    public func addPhoto(_ bytes: Data) async throws -> String {
        try await run { app in try app.addPhoto(jpeg: bytes) }
    }

    /// The kept photo's file, to show it (`thumbnail` for lists).
    public func photoURL(photoId: String, thumbnail: Bool = true) async throws -> URL {
        let path = try await run { app in try app.photoPath(photoId: photoId, thumbnail: thumbnail) }
        return URL(fileURLWithPath: path)
    }

    /// Report what was found at a visit (category and severity default to the item's).
    public func reportFault(
        visitId: String,
        itemKey: String?,
        title: String,
        note: String?,
        photos: [String],
        fixedOnSpot: Bool = false
    ) async throws -> Issue {
        let input = ReportInput(
            siteId: nil,
            visitId: visitId,
            itemKey: itemKey,
            category: nil,
            severity: nil,
            title: title.trimmingCharacters(in: .whitespacesAndNewlines),
            note: Self.nonBlank(note),
            photos: photos,
            fixedOnSpot: fixedOnSpot
        )
        return try await report(input)
    }

    /// Report a problem seen outside a checklist (a complaint, something on the way).
    public func report(_ input: ReportInput) async throws -> Issue {
        try await run { app in try app.report(input: input) }
    }

    public func progress(runId: String) async throws -> Progress {
        try await run { app in try app.progress(runId: runId) }
    }

    /// Finish a round; `missed` pairs each checkpoint not visited (by id) with why.
    public func finishRound(runId: String, missed: [String: String] = [:]) async throws {
        let reasons = missed
            .sorted { $0.key < $1.key }
            .map { MissedReason(checkpointId: $0.key, reason: $0.value) }
        try await run { app in try app.finishRound(runId: runId, missedReasons: reasons) }
    }

    // MARK: - Jobs

    /// A technician's jobs, or a supervisor's open issues, soonest due first.
    public func jobs() async throws -> [Issue] {
        try await run { app in try app.jobs() }
    }

    /// The people of the signed-in user's sites, optionally of one team (whom to assign to).
    public func people(team: Team? = nil) async throws -> [Person] {
        try await run { app in try app.people(team: team) }
    }

    public func assign(issueId: String, assigneeId: String) async throws -> Issue {
        try await run { app in try app.assign(issueId: issueId, assigneeId: assigneeId) }
    }

    public func startJob(issueId: String) async throws -> Issue {
        try await run { app in try app.startJob(issueId: issueId) }
    }

    /// Report a fix with a note and close-out photos.
    public func resolveJob(issueId: String, note: String?, photos: [String]) async throws -> Issue {
        let text = Self.nonBlank(note)
        return try await run { app in try app.resolveJob(issueId: issueId, note: text, photos: photos) }
    }

    /// Accept a fix on site, signed: `signaturePNG` is the signature pad's picture; `photos` are
    /// the ids of photos taken on site (from ``addPhoto(_:)``), kept with the sign-off.
    public func acceptFix(issueId: String, signaturePNG: Data, note: String?, photos: [String]) async throws -> Issue {
        let text = Self.nonBlank(note)
        return try await run { (app: PatrolApp) -> Issue in
            let signature = try app.addPhoto(jpeg: signaturePNG)
            return try app.verify(issueId: issueId, accepted: true, note: text, signature: signature, photos: photos)
        }
    }

    /// Send a fix back to the technician with the reason and the `photos` (ids) that show why.
    public func rejectFix(issueId: String, reason: String, photos: [String]) async throws -> Issue {
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await run { app in
            try app.verify(issueId: issueId, accepted: false, note: why, signature: nil, photos: photos)
        }
    }

    /// Ask for more time: the job would be due at `dueAt` instead.
    public func requestExtension(issueId: String, reason: String, dueAt: Date) async throws -> Issue {
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let due = formatter.string(from: dueAt)
        return try await run { app in try app.requestExtension(issueId: issueId, reason: why, dueAt: due) }
    }

    /// Approve or deny the waiting extension (managers).
    public func decideExtension(issueId: String, approved: Bool, note: String?) async throws -> Issue {
        let text = Self.nonBlank(note)
        return try await run { app in
            try app.decideExtension(issueId: issueId, approved: approved, note: text)
        }
    }

    // MARK: - Alerts

    /// Open alerts pulled for the signed-in person (urgent issues, missed rounds…), newest first.
    public func alerts() async throws -> [Alert] {
        try await run { app in try app.alerts() }
    }

    /// Acknowledge an alert: who attended and what was done. It goes to the server on the next
    /// sync; a blank note is refused with ``PatrolError/Refused(message:)``.
    public func acknowledgeAlert(alertId: String, note: String) async throws -> Alert {
        let text = note.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await run { app in try app.ackAlert(alertId: alertId, note: text) }
    }


    /// What waits for the server.
    public func pending() async throws -> Pending {
        try await run { app in try app.pending() }
    }

    /// What the server refused for good, oldest first.
    public func rejections() async throws -> [Rejection] {
        try await run { app in try app.rejections() }
    }

    /// The user has seen a refusal.
    public func dismissRejection(seq: UInt64) async throws {
        try await run { app in try app.dismissRejection(seq: seq) }
    }

    /// Whether a sync is under way.
    public var isSyncing: Bool {
        syncState.isRunning
    }

    /// Sync now: photos, then queued work, then what changed on the server.
    ///
    /// One sync at a time: a second call waits for the first to end, then syncs. Cancelling the
    /// calling task (or ``cancelSync()``) stops the sync inside the engine at its next step; what
    /// it finished stays done and the next sync carries on from there. A cancelled call throws
    /// `CancellationError`; other failures throw the ``PatrolError`` that ``syncState`` shows.
    @discardableResult
    public func sync(
        onProgress: (@Sendable (SyncPhase, UInt64, UInt64) -> Void)? = nil
    ) async throws -> SyncSummary {
        await acquireSyncTurn()
        defer { releaseSyncTurn() }
        if Task.isCancelled {
            throw CancellationError()
        }

        let cancel = SyncCancel()
        runningCancel = cancel
        syncState = .running(phase: nil, done: 0, total: 0)

        // The engine reports from its own thread; the state changes on the main actor, and only
        // while this sync is still the running one (a late report never overwrites the result).
        let relay = SyncProgressRelay { phase, done, total in
            onProgress?(phase, done, total)
            Task { @MainActor in
                guard self.runningCancel === cancel else { return }
                self.syncState = .running(phase: phase, done: done, total: total)
            }
        }

        do {
            let summary: SyncSummary = try await withTaskCancellationHandler {
                try await run { app in try app.syncNow(listener: relay, cancel: cancel) }
            } onCancel: {
                cancel.cancel()
            }
            runningCancel = nil
            syncState = .done(summary, at: Date())
            return summary
        } catch {
            runningCancel = nil
            let failure = PatrolError.from(error)
            syncState = .failed(failure)
            if Task.isCancelled {
                // Stopped because the calling task was cancelled: say so the Swift way.
                throw CancellationError()
            }
            throw failure
        }
    }

    /// Stop the running sync, if any (for a sync started elsewhere, such as in the background).
    public func cancelSync() {
        runningCancel?.cancel()
    }

    // MARK: - Private

    private func acquireSyncTurn() async {
        if !syncBusy {
            syncBusy = true
            return
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            syncWaiters.append(continuation)
        }
    }

    private func releaseSyncTurn() {
        if syncWaiters.isEmpty {
            syncBusy = false
        } else {
            // The turn passes straight to the next waiter.
            syncWaiters.removeFirst().resume()
        }
    }

    /// Run a blocking engine call on the engine queue and await its result.
    private func run<T>(_ work: @escaping @Sendable (PatrolApp) throws -> T) async throws -> T {
        let engine: PatrolApp = app
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            engineQueue.async {
                continuation.resume(with: Result { try work(engine) })
            }
        }
    }

    private static func nonBlank(_ text: String?) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else {
            return nil
        }
        return trimmed
    }
}

/// Hears the engine's sync progress (on the sync's thread) and hands it on.
final class SyncProgressRelay: SyncListener {
    private let handler: @Sendable (SyncPhase, UInt64, UInt64) -> Void

    init(_ handler: @escaping @Sendable (SyncPhase, UInt64, UInt64) -> Void) {
        self.handler = handler
    }

    func onProgress(phase: SyncPhase, done: UInt64, total: UInt64) {
        handler(phase, done, total)
    }
}
