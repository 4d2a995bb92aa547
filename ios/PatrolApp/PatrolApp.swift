import PatrolKit
import SwiftUI

/// 巡查助手 · Patrol companion. (Named apart from PatrolKit's `PatrolApp`, the engine.)
@main
@MainActor
struct PatrolCompanionApp: App {
    @StateObject private var model: AppModel
    @Environment(\.scenePhase) private var scenePhase

    init() {
        let model = AppModel()
        _model = StateObject(wrappedValue: model)
        // Before launch ends, so that a tap that launched the app reaches the model.
        model.handleNotifications()
        // Background tasks must be registered before the app finishes launching.
        BackgroundSync.register(model: model)
    }

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
        }
        .onChange(of: scenePhase) { _, phase in
            switch phase {
            case .active:
                model.appBecameActive()
            case .background:
                BackgroundSync.schedule()
            default:
                break
            }
        }
    }
}
