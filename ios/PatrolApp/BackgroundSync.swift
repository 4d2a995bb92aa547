import BackgroundTasks
import Foundation
import os

/// Sync while the app is in the background: a `BGProcessingTask` that needs the network, so
/// work recorded offline reaches the server once the phone is back in coverage.
enum BackgroundSync {
    /// Also listed in Info.plist, `BGTaskSchedulerPermittedIdentifiers`.
    static let taskIdentifier = "app.patrol.sync"

    private static let logger = Logger(subsystem: "app.patrol.companion", category: "background-sync")

    /// Register the handler; call once, before the app finishes launching.
    @MainActor
    static func register(model: AppModel) {
        let registered = BGTaskScheduler.shared.register(
            forTaskWithIdentifier: taskIdentifier,
            using: nil
        ) { task in
            BackgroundSync.run(task, model: model)
        }
        if !registered {
            logger.error("could not register \(Self.taskIdentifier, privacy: .public)")
        }
    }

    /// Ask the system for a sync when the network is there (again after each one).
    static func schedule() {
        let request = BGProcessingTaskRequest(identifier: taskIdentifier)
        request.requiresNetworkConnectivity = true
        request.requiresExternalPower = false
        request.earliestBeginDate = Date(timeIntervalSinceNow: 15 * 60)
        do {
            try BGTaskScheduler.shared.submit(request)
        } catch {
            // The simulator has no background tasks; on a phone the user may have turned off
            // background refresh. The app syncs when it is opened either way.
            logger.notice("background sync not scheduled: \(error.localizedDescription, privacy: .public)")
        }
    }

    private static func run(_ task: BGTask, model: AppModel) {
        let work = Task { @MainActor in
            BackgroundSync.schedule()
            let finished = await model.backgroundSync()
            task.setTaskCompleted(success: finished)
        }
        // Out of time: cancelling the task stops the sync inside the engine at its next step;
        // what it finished stays done, and the next sync carries on from there. A sync started
        // before (in the foreground) is stopped too: this one may be waiting for its turn, and
        // only its end lets this task complete before the system kills the app.
        task.expirationHandler = {
            work.cancel()
            Task { @MainActor in
                model.cancelSync()
            }
        }
    }
}
