import PatrolKit
import SwiftUI

/// A supervisor's (or manager's) queue of their sites: fixes waiting for on-site sign-off,
/// issues to assign, and work under way (reassign; managers decide extensions).
@MainActor
struct SignOffView: View {
    let session: Session

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel

    @State private var issues: [Issue] = []
    @State private var loaded = false
    @State private var verifying: IssueSelection?
    @State private var assigning: IssueSelection?
    @State private var deciding: IssueSelection?
    @State private var extending: IssueSelection?
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            content
                .navigationTitle("signoff.title")
                .refreshable { await refresh() }
                .task { await load() }
                .onChange(of: repository.syncState) { _, state in
                    if case .done = state {
                        Task { await load() }
                    }
                }
                .sheet(item: $verifying) { selection in
                    VerifySheet(issue: selection.issue) {
                        verifying = nil
                        changed()
                    }
                }
                .sheet(item: $assigning) { selection in
                    AssignSheet(issue: selection.issue) {
                        assigning = nil
                        changed()
                    }
                }
                .sheet(item: $deciding) { selection in
                    ExtensionDecisionSheet(issue: selection.issue) {
                        deciding = nil
                        changed()
                    }
                }
                .sheet(item: $extending) { selection in
                    ExtensionRequestSheet(issue: selection.issue) {
                        extending = nil
                        changed()
                    }
                }
                .errorAlert($alert)
        }
    }

    private var awaitingSignOff: [Issue] {
        issues.filter { issue in issue.status == .resolved }
    }

    private var unassigned: [Issue] {
        issues.filter { issue in issue.status == .open }
    }

    private var underWay: [Issue] {
        issues.filter { issue in issue.status == .assigned || issue.status == .inProgress }
    }

    private var isManager: Bool {
        session.role == .manager
    }

    @ViewBuilder
    private var content: some View {
        if !loaded {
            ProgressView("common.loading")
        } else if issues.isEmpty {
            ContentUnavailableView {
                Label("signoff.empty.title", systemImage: "checkmark.seal")
            } description: {
                Text("signoff.empty.message")
            }
        } else {
            List {
                if !awaitingSignOff.isEmpty {
                    Section {
                        ForEach(awaitingSignOff, id: \.id) { issue in
                            VStack(alignment: .leading, spacing: 8) {
                                IssueRow(issue: issue)
                                Button("signoff.verify") { verifying = IssueSelection(issue: issue) }
                                    .buttonStyle(.borderedProminent)
                            }
                        }
                    } header: {
                        Text("signoff.awaiting \(awaitingSignOff.count)")
                    } footer: {
                        Text("signoff.awaiting.footer")
                    }
                }
                if !unassigned.isEmpty {
                    Section {
                        ForEach(unassigned, id: \.id) { issue in
                            VStack(alignment: .leading, spacing: 8) {
                                IssueRow(issue: issue)
                                HStack {
                                    Button("signoff.assign") { assigning = IssueSelection(issue: issue) }
                                        .buttonStyle(.borderedProminent)
                                    Spacer()
                                    moreMenu(for: issue)
                                }
                            }
                        }
                    } header: {
                        Text("signoff.unassigned \(unassigned.count)")
                    }
                }
                if !underWay.isEmpty {
                    Section {
                        ForEach(underWay, id: \.id) { issue in
                            VStack(alignment: .leading, spacing: 8) {
                                IssueRow(issue: issue)
                                HStack {
                                    Button("signoff.reassign") { assigning = IssueSelection(issue: issue) }
                                        .buttonStyle(.bordered)
                                    Spacer()
                                    moreMenu(for: issue)
                                }
                            }
                        }
                    } header: {
                        Text("signoff.underWay \(underWay.count)")
                    }
                }
            }
        }
    }

    private func moreMenu(for issue: Issue) -> some View {
        Menu {
            Button("jobs.requestExtension", systemImage: "calendar.badge.plus") {
                extending = IssueSelection(issue: issue)
            }
            if isManager {
                Button("signoff.decideExtension", systemImage: "calendar.badge.checkmark") {
                    deciding = IssueSelection(issue: issue)
                }
            }
        } label: {
            Image(systemName: "ellipsis.circle")
                .font(.title3)
        }
        .accessibilityLabel("signoff.more")
    }

    private func load() async {
        do {
            issues = try await repository.jobs()
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

    private func changed() {
        model.startSync()
        Task { await load() }
    }
}

/// Verify a fix on site: accept with a signature, or send it back with the reason.
@MainActor
struct VerifySheet: View {
    let issue: Issue
    let onDone: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var signature = Signature()
    @State private var note = ""
    @State private var rejectReason = ""
    @State private var showReject = false
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            VStack(alignment: .leading, spacing: 16) {
                IssueRow(issue: issue)
                Text("verify.instructions")
                    .font(.footnote)
                    .foregroundStyle(.secondary)
                VStack(alignment: .leading, spacing: 6) {
                    HStack {
                        Text("verify.signature")
                            .font(.headline)
                        Spacer()
                        Button("signature.clear") { signature = Signature() }
                            .disabled(signature.isEmpty || isSaving)
                    }
                    SignaturePad(signature: $signature)
                        .frame(height: 200)
                }
                TextField("verify.note.placeholder", text: $note, axis: .vertical)
                    .lineLimit(1...3)
                    .textFieldStyle(.roundedBorder)
                Spacer(minLength: 0)
                Button {
                    accept()
                } label: {
                    Label("verify.accept", systemImage: "checkmark.seal.fill")
                        .frame(maxWidth: .infinity)
                }
                .buttonStyle(.borderedProminent)
                .controlSize(.large)
                .disabled(signature.isEmpty || isSaving)
                Button(role: .destructive) {
                    showReject = true
                } label: {
                    Label("verify.reject", systemImage: "arrow.uturn.backward")
                        .frame(maxWidth: .infinity)
                }
                .buttonStyle(.bordered)
                .controlSize(.large)
                .disabled(isSaving)
            }
            .padding()
            .overlay {
                if isSaving {
                    WorkingOverlay()
                }
            }
            .navigationTitle("verify.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(isSaving)
                }
            }
            .alert("verify.reject.title", isPresented: $showReject) {
                TextField("verify.reject.reason", text: $rejectReason)
                Button("verify.reject", role: .destructive) { reject() }
                Button("common.cancel", role: .cancel) {}
            } message: {
                Text("verify.reject.message")
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    private func accept() {
        guard let png = SignatureRenderer.png(signature) else {
            alert = AlertMessage(text: String(localized: "verify.signatureMissing"))
            return
        }
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                // This sheet takes no photos of its own: the signature is the evidence it adds.
                _ = try await repository.acceptFix(issueId: issue.id, signaturePNG: png, note: note, photos: [])
                onDone()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }

    private func reject() {
        guard let why = nonBlank(rejectReason) else {
            alert = AlertMessage(text: String(localized: "verify.reasonMissing"))
            return
        }
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                _ = try await repository.rejectFix(issueId: issue.id, reason: why, photos: [])
                onDone()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// Assign an issue to a person of its team.
@MainActor
struct AssignSheet: View {
    let issue: Issue
    let onAssigned: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var people: [Person] = []
    @State private var loaded = false
    @State private var assigningTo: String?
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            Group {
                if !loaded {
                    ProgressView("common.loading")
                } else if people.isEmpty {
                    ContentUnavailableView {
                        Label("assign.empty.title", systemImage: "person.2.slash")
                    } description: {
                        Text("assign.empty.message \(Labels.team(issue.team))")
                    }
                } else {
                    List {
                        Section {
                            ForEach(people, id: \.userId) { person in
                                Button {
                                    assign(to: person)
                                } label: {
                                    PersonRow(
                                        name: person.displayName,
                                        detail: detail(for: person),
                                        isCurrent: person.userId == issue.assigneeId,
                                        isBusy: assigningTo == person.userId
                                    )
                                }
                                .disabled(assigningTo != nil)
                            }
                        } header: {
                            Text("assign.team \(Labels.team(issue.team))")
                        } footer: {
                            Text(issue.title)
                        }
                    }
                }
            }
            .navigationTitle("assign.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(assigningTo != nil)
                }
            }
            .task { await load() }
            .errorAlert($alert)
        }
    }

    private func detail(for person: Person) -> String {
        let role = Labels.role(person.role)
        guard let team = person.team else { return role }
        return "\(role) · \(Labels.team(team))"
    }

    private func load() async {
        do {
            let team: [Person] = try await repository.people(team: issue.team)
            people = team.filter { member in member.role != .admin }
        } catch {
            alert = AlertMessage(error)
        }
        loaded = true
    }

    private func assign(to person: Person) {
        assigningTo = person.userId
        Task {
            defer { assigningTo = nil }
            do {
                _ = try await repository.assign(issueId: issue.id, assigneeId: person.userId)
                onAssigned()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// A person to pick, with a check mark on the current assignee.
private struct PersonRow: View {
    let name: String
    let detail: String
    let isCurrent: Bool
    let isBusy: Bool

    var body: some View {
        HStack {
            VStack(alignment: .leading, spacing: 2) {
                Text(name)
                    .foregroundStyle(.primary)
                Text(detail)
                    .font(.caption)
                    .foregroundStyle(.secondary)
            }
            Spacer()
            if isBusy {
                ProgressView()
            } else if isCurrent {
                Image(systemName: "checkmark")
                    .foregroundStyle(.tint)
                    .accessibilityLabel("assign.current")
            }
        }
        .contentShape(Rectangle())
    }
}

/// Approve or deny the extension a technician asked for (managers).
@MainActor
struct ExtensionDecisionSheet: View {
    let issue: Issue
    let onDecided: () -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var note = ""
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    IssueRow(issue: issue)
                } footer: {
                    Text("decide.footer")
                }
                Section {
                    TextField("decide.note.placeholder", text: $note, axis: .vertical)
                        .lineLimit(2...5)
                } header: {
                    Text("decide.note")
                }
                Section {
                    Button("decide.approve") { decide(approved: true) }
                        .disabled(isSaving)
                    Button("decide.deny", role: .destructive) { decide(approved: false) }
                        .disabled(isSaving)
                }
            }
            .overlay {
                if isSaving {
                    WorkingOverlay()
                }
            }
            .navigationTitle("decide.title")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(isSaving)
                }
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    private func decide(approved: Bool) {
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                _ = try await repository.decideExtension(issueId: issue.id, approved: approved, note: note)
                onDecided()
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}
