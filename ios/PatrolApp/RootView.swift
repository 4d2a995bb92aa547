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
    case sync

    static func tabs(for role: Role) -> [MainTab] {
        switch role {
        case .patrol:
            return [.rounds, .report, .sync]
        case .technician:
            return [.jobs, .report, .sync]
        case .supervisor, .manager:
            return [.signOff, .rounds, .report, .sync]
        case .admin:
            return [.sync]
        }
    }
}

@MainActor
struct MainTabView: View {
    let session: Session

    @EnvironmentObject private var repository: PatrolRepository
    @State private var selection: MainTab
    /// Refusals waiting to be seen, as the sync tab's badge.
    @State private var refusals = 0

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
                    .badge(tab == .sync ? refusals : 0)
            }
        }
        .task(id: repository.isSyncing) {
            await countRefusals()
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
        case .sync:
            Label("tab.sync", systemImage: "arrow.triangle.2.circlepath")
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
