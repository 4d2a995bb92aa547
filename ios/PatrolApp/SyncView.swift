import PatrolKit
import SwiftUI

/// Sync status: what waits for the server, the sync under way or the last result, what the
/// server refused, and the account (sign out).
@MainActor
struct SyncView: View {
    let session: Session

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel

    @State private var pending: Pending?
    @State private var rejections: [Rejection] = []
    @State private var dismissing: Set<UInt64> = []
    @State private var confirmSignOut = false
    @State private var isSigningOut = false
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            List {
                Section {
                    SyncStatusView(state: repository.syncState)
                    if repository.isSyncing {
                        Button("sync.cancel", role: .destructive) { model.cancelSync() }
                    } else {
                        Button {
                            model.startSync()
                        } label: {
                            Label("sync.now", systemImage: "arrow.triangle.2.circlepath")
                        }
                    }
                } header: {
                    Text("sync.status")
                } footer: {
                    Text("sync.status.footer")
                }

                Section {
                    if let pending = pending {
                        LabeledContent("sync.pending.ops", value: String(pending.ops))
                        LabeledContent("sync.pending.photos", value: String(pending.photos))
                        LabeledContent("sync.pending.rejected", value: String(pending.rejected))
                    } else {
                        ProgressView()
                    }
                } header: {
                    Text("sync.pending")
                } footer: {
                    Text("sync.pending.footer")
                }

                Section {
                    if rejections.isEmpty {
                        Text("sync.rejections.empty")
                            .foregroundStyle(.secondary)
                    } else {
                        ForEach(rejections, id: \.seq) { rejection in
                            RejectionRow(
                                message: rejection.message,
                                detail: "\(rejection.kind) · \(rejection.code)",
                                isDismissing: dismissing.contains(rejection.seq)
                            ) {
                                dismiss(rejection.seq)
                            }
                            .swipeActions {
                                Button("sync.rejection.dismiss") { dismiss(rejection.seq) }
                                    .tint(.blue)
                            }
                        }
                    }
                } header: {
                    Text("sync.rejections")
                } footer: {
                    Text("sync.rejections.footer")
                }

                Section {
                    LabeledContent("account.username", value: session.username)
                    LabeledContent("account.role", value: Labels.role(session.role))
                    if let team = session.team {
                        LabeledContent("account.team", value: Labels.team(team))
                    }
                    LabeledContent("account.server", value: AppConfig.serverURL)
                    Button("account.signOut", role: .destructive) { confirmSignOut = true }
                        .disabled(isSigningOut)
                } header: {
                    Text("account.header")
                }
            }
            .navigationTitle("sync.title")
            .refreshable { await load() }
            .task(id: repository.isSyncing) { await load() }
            .confirmationDialog("account.signOut.title", isPresented: $confirmSignOut, titleVisibility: .visible) {
                Button("account.signOut", role: .destructive) { signOut() }
                Button("common.cancel", role: .cancel) {}
            } message: {
                Text(signOutMessage)
            }
            .errorAlert($alert)
        }
    }

    private var signOutMessage: String {
        let waiting = Int(pending?.ops ?? 0) + Int(pending?.photos ?? 0)
        if waiting > 0 {
            return String(localized: "account.signOut.pending \(waiting)")
        }
        return String(localized: "account.signOut.message")
    }

    private func load() async {
        do {
            pending = try await repository.pending()
            rejections = try await repository.rejections()
        } catch {
            alert = AlertMessage(error)
        }
    }

    private func dismiss(_ seq: UInt64) {
        guard !dismissing.contains(seq) else { return }
        dismissing.insert(seq)
        Task {
            defer { dismissing.remove(seq) }
            do {
                try await repository.dismissRejection(seq: seq)
                await load()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }

    private func signOut() {
        isSigningOut = true
        Task {
            defer { isSigningOut = false }
            do {
                try await model.signOut()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// The sync under way (phase and progress), or how the last one ended.
@MainActor
struct SyncStatusView: View {
    let state: SyncState

    var body: some View {
        switch state {
        case .idle:
            Label("sync.idle", systemImage: "clock.arrow.circlepath")
                .foregroundStyle(.secondary)
        case let .running(phase, done, total):
            VStack(alignment: .leading, spacing: 6) {
                Text(phase.map { current in Labels.phase(current) } ?? String(localized: "sync.starting"))
                    .font(.subheadline.bold())
                if total > 0 {
                    ProgressView(value: Double(done), total: Double(total))
                    Text("sync.count \(Int(done)) \(Int(total))")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                } else {
                    ProgressView()
                        .frame(maxWidth: .infinity, alignment: .leading)
                    if done > 0 {
                        Text("sync.received \(Int(done))")
                            .font(.caption)
                            .foregroundStyle(.secondary)
                    }
                }
            }
            .accessibilityElement(children: .combine)
        case let .done(summary, at):
            VStack(alignment: .leading, spacing: 4) {
                Label {
                    Text("sync.done \(at.formatted(.relative(presentation: .named)))")
                } icon: {
                    Image(systemName: "checkmark.circle.fill")
                        .foregroundStyle(.green)
                }
                Text("sync.summary \(Int(summary.photos)) \(Int(summary.applied + summary.duplicates)) \(Int(summary.pulled))")
                    .font(.caption)
                    .foregroundStyle(.secondary)
                if summary.rejected > 0 {
                    Text("sync.summary.rejected \(Int(summary.rejected))")
                        .font(.caption)
                        .foregroundStyle(.red)
                }
            }
            .accessibilityElement(children: .combine)
        case let .failed(error):
            VStack(alignment: .leading, spacing: 4) {
                Label {
                    Text(error.message)
                } icon: {
                    Image(systemName: error.isRetryable ? "wifi.exclamationmark" : "exclamationmark.triangle.fill")
                        .foregroundStyle(error.isRetryable ? Color.orange : Color.red)
                }
                if error.isRetryable {
                    Text("sync.retryHint")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                }
            }
            .accessibilityElement(children: .combine)
        }
    }
}

/// A refusal from the server, to read and dismiss.
private struct RejectionRow: View {
    let message: String
    let detail: String
    let isDismissing: Bool
    let onDismiss: () -> Void

    var body: some View {
        HStack(alignment: .top) {
            VStack(alignment: .leading, spacing: 4) {
                Text(message)
                Text(detail)
                    .font(.caption.monospaced())
                    .foregroundStyle(.secondary)
            }
            Spacer()
            if isDismissing {
                ProgressView()
            } else {
                Button {
                    onDismiss()
                } label: {
                    Image(systemName: "xmark.circle")
                }
                .buttonStyle(.borderless)
                .accessibilityLabel("sync.rejection.dismiss")
            }
        }
    }
}
