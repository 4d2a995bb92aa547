import PatrolKit
import SwiftUI

/// The signed-in person's open alerts (urgent and overdue issues, rounds not walked), newest
/// first; each is acknowledged with a note saying who attended and what was done.
@MainActor
struct AlertsView: View {
    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel

    @State private var alerts: [PatrolKit.Alert] = []
    @State private var loaded = false
    @State private var acknowledging: AlertSelection?
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            content
                .navigationTitle("alerts.title")
                .refreshable { await refresh() }
                .task { await load() }
                .onChange(of: repository.syncState) { _, state in
                    if case .done = state {
                        Task { await load() }
                    }
                }
                .sheet(item: $acknowledging) { selection in
                    AcknowledgeAlertSheet(alert: selection.alert) {
                        acknowledging = nil
                        model.startSync()
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
        } else if alerts.isEmpty {
            ContentUnavailableView {
                Label("alerts.empty.title", systemImage: "bell.slash")
            } description: {
                Text("alerts.empty.message")
            }
        } else {
            List(alerts, id: \.id) { item in
                VStack(alignment: .leading, spacing: 8) {
                    HStack {
                        Text(Labels.alertKind(item.kind))
                            .font(.subheadline.weight(.semibold))
                            .foregroundStyle(item.kind == .urgent || item.kind == .major ? .red : .primary)
                        Spacer()
                        Text(Labels.dateTime(item.raisedAt))
                            .font(.caption)
                            .foregroundStyle(.secondary)
                    }
                    Text(item.textZh)
                    Text(item.textEn)
                        .font(.callout)
                        .foregroundStyle(.secondary)
                    Button("alerts.ack") {
                        acknowledging = AlertSelection(alert: item)
                    }
                    .buttonStyle(.bordered)
                }
                .padding(.vertical, 4)
            }
        }
    }

    private func load() async {
        do {
            alerts = try await repository.alerts()
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
}

/// An alert chosen for acknowledgement (sheets need an `Identifiable` item).
struct AlertSelection: Identifiable {
    let alert: PatrolKit.Alert
    var id: String { alert.id }
}

/// Who attended and what was done: the note that acknowledges an alert.
@MainActor
struct AcknowledgeAlertSheet: View {
    let alert: PatrolKit.Alert
    let onDone: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var note = ""
    @State private var sending = false
    @State private var failure: AlertMessage?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text(alert.textZh)
                    Text(alert.textEn)
                        .foregroundStyle(.secondary)
                }
                Section {
                    TextField("alerts.ack.noteHint", text: $note, axis: .vertical)
                        .lineLimit(2...6)
                } header: {
                    Text("alerts.ack.note")
                }
            }
            .navigationTitle("alerts.ack.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(sending)
                }
                ToolbarItem(placement: .confirmationAction) {
                    Button("alerts.ack.confirm") {
                        Task { await acknowledge() }
                    }
                    .disabled(sending || note.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
                }
            }
            .errorAlert($failure)
        }
    }

    private func acknowledge() async {
        sending = true
        defer { sending = false }
        do {
            _ = try await repository.acknowledgeAlert(alertId: alert.id, note: note)
            onDone()
        } catch {
            failure = AlertMessage(error)
        }
    }
}
