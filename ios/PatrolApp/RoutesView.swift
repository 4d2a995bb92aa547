import PatrolKit
import SwiftUI

/// A round being walked, as a navigation destination.
struct RoundDestination: Hashable {
    let runId: String
    let routeName: String
}

/// Today's routes: start a round, or carry on with the one under way.
@MainActor
struct RoutesView: View {
    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel

    @State private var routes: [RouteToday] = []
    @State private var loaded = false
    @State private var startingRouteId: String?
    @State private var path: [RoundDestination] = []
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack(path: $path) {
            content
                .navigationTitle("routes.title")
                .navigationDestination(for: RoundDestination.self) { destination in
                    RoundView(runId: destination.runId, routeName: destination.routeName)
                }
                .refreshable { await refresh() }
                .task { await load() }
                .onChange(of: repository.syncState) { _, state in
                    if case .done = state {
                        Task { await load() }
                    }
                }
                .onChange(of: path) { _, newPath in
                    // Back from a round: rounds done and the round under way have changed.
                    if newPath.isEmpty {
                        Task { await load() }
                    }
                }
                .errorAlert($alert)
        }
    }

    @ViewBuilder
    private var content: some View {
        if !loaded {
            ProgressView("common.loading")
        } else if routes.isEmpty {
            ContentUnavailableView {
                Label("routes.empty.title", systemImage: "map")
            } description: {
                Text("routes.empty.message")
            } actions: {
                Button("sync.now") { model.startSync() }
                    .buttonStyle(.borderedProminent)
                    .disabled(repository.isSyncing)
            }
        } else {
            List {
                Section {
                    ForEach(routes, id: \.routeId) { route in
                        RouteRow(route: route, isStarting: startingRouteId == route.routeId) {
                            open(route)
                        }
                    }
                } footer: {
                    Text("routes.footer")
                }
            }
        }
    }

    private func load() async {
        do {
            routes = try await repository.routesToday()
        } catch {
            alert = AlertMessage(error)
        }
        loaded = true
    }

    private func refresh() async {
        do {
            try await model.syncAndWait()
        } catch {
            alert = AlertMessage(error)
        }
        await load()
    }

    private func open(_ route: RouteToday) {
        if let runId = route.underWay {
            path.append(RoundDestination(runId: runId, routeName: route.name))
            return
        }
        guard startingRouteId == nil else { return }
        startingRouteId = route.routeId
        Task {
            defer { startingRouteId = nil }
            do {
                let runId = try await repository.startRound(routeId: route.routeId)
                path.append(RoundDestination(runId: runId, routeName: route.name))
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// One route of today.
@MainActor
private struct RouteRow: View {
    let route: RouteToday
    let isStarting: Bool
    let action: () -> Void

    var body: some View {
        HStack(alignment: .center, spacing: 12) {
            VStack(alignment: .leading, spacing: 4) {
                Text(route.name)
                    .font(.headline)
                Text(route.siteName)
                    .font(.subheadline)
                    .foregroundStyle(.secondary)
                HStack(spacing: 12) {
                    Label("routes.checkpoints \(route.checkpoints.count)", systemImage: "mappin.and.ellipse")
                    Label("routes.roundsDone \(Int(route.roundsDone))", systemImage: "checkmark.circle")
                }
                .font(.caption)
                .foregroundStyle(.secondary)
                if !route.times.isEmpty {
                    Label(startTimes, systemImage: "clock")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                        .accessibilityLabel(Text("routes.times \(startTimes)"))
                }
            }
            Spacer(minLength: 8)
            if isStarting {
                ProgressView()
            } else if route.underWay != nil {
                Button("routes.continue", action: action)
                    .buttonStyle(.borderedProminent)
                    .tint(.orange)
            } else {
                Button("routes.start", action: action)
                    .buttonStyle(.borderedProminent)
            }
        }
        .padding(.vertical, 4)
        .accessibilityElement(children: .combine)
    }

    /// "09:00 · 14:00" from "09:00:00", "14:00:00".
    private var startTimes: String {
        route.times.map { time in String(time.prefix(5)) }.joined(separator: " · ")
    }
}
