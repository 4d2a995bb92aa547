import PatrolKit
import SwiftUI

/// Sign-in, or the signed-in user's tabs.
@MainActor
struct RootView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        Group {
            switch model.stage {
            case .starting:
                ProgressView("root.starting")
            case let .unavailable(message):
                ContentUnavailableView {
                    Label("root.unavailable.title", systemImage: "exclamationmark.triangle")
                } description: {
                    Text(message)
                }
            case .signedOut:
                SignInView()
            case let .signedIn(session):
                if let repository = model.repository {
                    MainTabView(session: session)
                        .environmentObject(repository)
                        .id(session.userId)
                }
            }
        }
        .task {
            await model.restore()
        }
    }
}

/// The tabs a role works with.
enum MainTab: Hashable {
    case rounds
    case jobs
    case signOff
    case report
    case alerts
    case sync

    /// Everyone has alerts: supervisors, managers and admins all of their site's, technicians
    /// and patrol staff their team's (security: urgent reports).
    static func tabs(for role: Role) -> [MainTab] {
        switch role {
        case .patrol:
            return [.rounds, .report, .alerts, .sync]
        case .technician:
            return [.jobs, .report, .alerts, .sync]
        case .supervisor, .manager:
            return [.signOff, .alerts, .rounds, .report, .sync]
        case .admin:
            return [.alerts, .sync]
        }
    }
}

@MainActor
struct MainTabView: View {
    let session: Session

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel
    @State private var selection: MainTab
    /// Refusals waiting to be seen, as the sync tab's badge.
    @State private var refusals = 0
    /// Open alerts, as the alerts tab's badge.
    @State private var openAlerts = 0

    init(session: Session) {
        self.session = session
        _selection = State(initialValue: MainTab.tabs(for: session.role).first ?? .sync)
    }

    var body: some View {
        TabView(selection: $selection) {
            ForEach(MainTab.tabs(for: session.role), id: \.self) { tab in
                content(for: tab)
                    .tabItem { tabLabel(for: tab) }
                    .tag(tab)
                    .badge(badge(for: tab))
            }
        }
        .task(id: repository.isSyncing) {
            await countRefusals()
            await countAlerts()
        }
        .onChange(of: model.openAlertsRequested, initial: true) { _, requested in
            // A tapped alert notification.
            guard requested else { return }
            selection = .alerts
            model.openAlertsRequested = false
        }
    }

    @ViewBuilder
    private func content(for tab: MainTab) -> some View {
        switch tab {
        case .rounds:
            RoutesView()
        case .jobs:
            JobsView(session: session)
        case .signOff:
            SignOffView(session: session)
        case .report:
            StandaloneReportView(session: session)
        case .alerts:
            AlertsView()
        case .sync:
            SyncView(session: session)
        }
    }

    @ViewBuilder
    private func tabLabel(for tab: MainTab) -> some View {
        switch tab {
        case .rounds:
            Label("tab.rounds", systemImage: "figure.walk")
        case .jobs:
            Label("tab.jobs", systemImage: "wrench.and.screwdriver")
        case .signOff:
            Label("tab.signOff", systemImage: "signature")
        case .report:
            Label("tab.report", systemImage: "exclamationmark.bubble")
        case .alerts:
            Label("tab.alerts", systemImage: "bell")
        case .sync:
            Label("tab.sync", systemImage: "arrow.triangle.2.circlepath")
        }
    }

    private func badge(for tab: MainTab) -> Int {
        switch tab {
        case .sync: return refusals
        case .alerts: return openAlerts
        default: return 0
        }
    }

    private func countAlerts() async {
        do {
            let current: [PatrolKit.Alert] = try await repository.alerts()
            openAlerts = current.count
        } catch {
            // The alerts tab shows the failure; the badge just stays as it was.
        }
    }

    private func countRefusals() async {
        do {
            let waiting: Pending = try await repository.pending()
            refusals = Int(waiting.rejected)
        } catch {
            // Shown on the sync tab itself; the badge just stays as it was.
        }
    }
}
