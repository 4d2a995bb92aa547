import PatrolKit
import SwiftUI

/// A technician's jobs (the team's 3-day queue and what is assigned to them), soonest due
/// first: start a job, close it with photos, or ask for more time.
@MainActor
struct JobsView: View {
    let session: Session

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel

    @State private var jobs: [Issue] = []
    @State private var loaded = false
    @State private var busyIssueId: String?
    @State private var resolving: IssueSelection?
    @State private var extending: IssueSelection?
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            content
                .navigationTitle("jobs.title")
                .refreshable { await refresh() }
                .task { await load() }
                .onChange(of: repository.syncState) { _, state in
                    if case .done = state {
                        Task { await load() }
                    }
                }
                .sheet(item: $resolving) { selection in
                    ResolveJobSheet(issue: selection.issue) {
                        resolving = nil
                        model.startSync()
                        Task { await load() }
                    }
                }
                .sheet(item: $extending) { selection in
                    ExtensionRequestSheet(issue: selection.issue) {
                        extending = nil
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
        } else if jobs.isEmpty {
            ContentUnavailableView {
                Label("jobs.empty.title", systemImage: "checkmark.seal")
            } description: {
                Text("jobs.empty.message")
            }
        } else {
            List {
                Section {
                    ForEach(jobs, id: \.id) { job in
                        VStack(alignment: .leading, spacing: 8) {
                            IssueRow(issue: job)
                            actions(for: job)
                        }
                    }
                } header: {
                    if let team = session.team {
                        Text("jobs.teamQueue \(Labels.team(team))")
                    }
                } footer: {
                    Text("jobs.footer")
                }
            }
        }
    }

    @ViewBuilder
    private func actions(for job: Issue) -> some View {
        HStack(spacing: 8) {
            if busyIssueId == job.id {
                ProgressView()
            } else {
                switch job.status {
                case .assigned:
                    Button("jobs.start") { start(job) }
                        .buttonStyle(.borderedProminent)
                case .inProgress:
                    Button("jobs.resolve") { resolving = IssueSelection(issue: job) }
                        .buttonStyle(.borderedProminent)
                        .tint(.green)
                case .open:
                    Label("jobs.waitingAssignment", systemImage: "person.crop.circle.badge.questionmark")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                case .resolved:
                    Label("jobs.waitingVerification", systemImage: "signature")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                case .closed:
                    EmptyView()
                }
            }
            Spacer()
            if [IssueStatus.open, .assigned, .inProgress].contains(job.status) {
                Button("jobs.requestExtension") { extending = IssueSelection(issue: job) }
                    .buttonStyle(.bordered)
                    .controlSize(.small)
            }
        }
    }

    private func load() async {
        do {
            jobs = try await repository.jobs()
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

    private func start(_ job: Issue) {
        busyIssueId = job.id
        Task {
            defer { busyIssueId = nil }
            do {
                _ = try await repository.startJob(issueId: job.id)
                model.startSync()
                await load()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// Close a job: photos of the fix and a note.
@MainActor
struct ResolveJobSheet: View {
    let issue: Issue
    let onResolved: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var photos: [String] = []
    @State private var note = ""
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    IssueRow(issue: issue)
                }
                Section {
                    PhotoStrip(photoIds: $photos, isRequired: true)
                } header: {
                    Text("resolve.photos")
                } footer: {
                    Text("resolve.photos.footer")
                }
                Section {
                    TextField("resolve.note.placeholder", text: $note, axis: .vertical)
                        .lineLimit(3...8)
                } header: {
                    Text("resolve.note")
                }
            }
            .navigationTitle("resolve.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(isSaving)
                }
                ToolbarItem(placement: .confirmationAction) {
                    if isSaving {
                        ProgressView()
                    } else {
                        Button("resolve.submit") { submit() }
                            .disabled(photos.isEmpty)
                    }
                }
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    private func submit() {
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                _ = try await repository.resolveJob(issueId: issue.id, note: note, photos: photos)
                onResolved()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// Ask for more time: a later due time and why.
@MainActor
struct ExtensionRequestSheet: View {
    let issue: Issue
    let onRequested: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var dueAt: Date
    @State private var reason = ""
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    private let earliest: Date

    init(issue: Issue, onRequested: @escaping () -> Void) {
        self.issue = issue
        self.onRequested = onRequested
        let current = DueDate.parse(issue.dueAt) ?? Date()
        let earliest = max(current, Date()).addingTimeInterval(60 * 60)
        self.earliest = earliest
        _dueAt = State(initialValue: max(current, Date()).addingTimeInterval(24 * 60 * 60))
    }

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    IssueRow(issue: issue)
                }
                Section {
                    DatePicker("extension.newDue", selection: $dueAt, in: earliest..., displayedComponents: [.date, .hourAndMinute])
                } footer: {
                    Text("extension.currentDue \(DueDate.describe(issue.dueAt))")
                }
                Section {
                    TextField("extension.reason.placeholder", text: $reason, axis: .vertical)
                        .lineLimit(3...6)
                } header: {
                    Text("extension.reason")
                } footer: {
                    Text("extension.footer")
                }
            }
            .navigationTitle("extension.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(isSaving)
                }
                ToolbarItem(placement: .confirmationAction) {
                    if isSaving {
                        ProgressView()
                    } else {
                        Button("extension.submit") { submit() }
                            .disabled(nonBlank(reason) == nil)
                    }
                }
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    private func submit() {
        guard let why = nonBlank(reason) else { return }
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                _ = try await repository.requestExtension(issueId: issue.id, reason: why, dueAt: dueAt)
                onRequested()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}
