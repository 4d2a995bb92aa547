import Foundation
import PatrolKit
import UserNotifications

/// The app's state above the screens: the repository, who is signed in, and the sync the app
/// starts by itself (after sign-in, on returning to the foreground, after recording work).
@MainActor
final class AppModel: ObservableObject {
    enum Stage: Equatable {
        /// Reading the stored session.
        case starting
        case signedOut
        case signedIn(Session)
        /// The engine could not open its database: the sentence says why.
        case unavailable(String)
    }

    @Published private(set) var stage: Stage = .starting

    /// A tapped alert notification asks for the alerts tab; the tab view clears it.
    @Published var openAlertsRequested = false

    /// Kept here: `UNUserNotificationCenter` holds its delegate weakly.
    private var notificationDelegate: AlertNotificationDelegate?

    /// Nil only when the engine could not be opened (``Stage/unavailable(_:)``).
    let repository: PatrolRepository?

    private var syncTask: Task<Void, Never>?
    private var lastAutomaticSync: Date?

    /// How long the app waits before syncing again by itself on returning to the foreground.
    private static let foregroundSyncInterval: TimeInterval = 10 * 60

    init() {
        do {
            repository = try PatrolRepository.open(
                directory: AppConfig.dataDirectory(),
                serverURL: AppConfig.serverURL
            )
        } catch {
            repository = nil
            stage = .unavailable(ErrorText.message(for: error))
        }
    }

    /// Route alert notifications to this model (call once, at launch).
    func handleNotifications() {
        let delegate = AlertNotificationDelegate(model: self)
        notificationDelegate = delegate
        UNUserNotificationCenter.current().delegate = delegate
    }

    var session: Session? {
        if case let .signedIn(session) = stage {
            return session
        }
        return nil
    }

    /// Pick up the stored session once, at launch.
    func restore() async {
        guard stage == .starting, let repository = repository else { return }
        do {
            let stored = try await repository.session()
            if let stored = stored {
                stage = .signedIn(stored)
                startSync()
            } else {
                stage = .signedOut
            }
        } catch {
            stage = .unavailable(ErrorText.message(for: error))
        }
    }

    func signIn(username: String, password: String) async throws {
        guard let repository = repository else { return }
        let signedIn = try await repository.signIn(username: username, password: password)
        stage = .signedIn(signedIn)
        // Fetch today's routes, the estate and the queue while the network is there.
        startSync()
        await AlertNotifications.requestAuthorization()
    }

    func signOut() async throws {
        guard let repository = repository else { return }
        cancelSync()
        try await repository.signOut()
        stage = .signedOut
    }

    /// The server said the session is over: back to the sign-in screen.
    func sessionExpired() {
        if case .signedIn = stage {
            cancelSync()
            stage = .signedOut
        }
    }

    /// Start a sync in the background of the UI unless one is under way; its progress and
    /// result show in `repository.syncState`.
    func startSync() {
        guard let repository = repository, session != nil, !repository.isSyncing else { return }
        lastAutomaticSync = Date()
        syncTask = Task { [weak self] in
            do {
                try await repository.sync()
            } catch {
                if let failure = error as? PatrolError, failure.needsSignIn {
                    self?.sessionExpired()
                }
            }
        }
    }

    /// Sync and wait for it (pull to refresh); throws what stopped it.
    func syncAndWait() async throws {
        guard let repository = repository, session != nil else { return }
        lastAutomaticSync = Date()
        do {
            try await repository.sync()
        } catch {
            if let failure = error as? PatrolError, failure.needsSignIn {
                sessionExpired()
            }
            throw error
        }
    }

    /// Stop the sync under way, whoever started it.
    func cancelSync() {
        syncTask?.cancel()
        syncTask = nil
        repository?.cancelSync()
    }

    func appBecameActive() {
        guard session != nil else { return }
        if let last = lastAutomaticSync, Date().timeIntervalSince(last) < Self.foregroundSyncInterval {
            return
        }
        startSync()
    }

    /// The background task's sync: true when there was nothing to do or it finished.
    func backgroundSync() async -> Bool {
        guard let repository = repository else { return false }
        do {
            guard let signedIn = try await repository.session() else { return true }
            try await repository.sync()
            await AlertNotifications.showNew(repository: repository, userId: signedIn.userId)
            return true
        } catch {
            return false
        }
    }
}
