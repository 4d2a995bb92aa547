import PatrolKit
import SwiftUI

/// Report a problem: a fault found at a visit (category and severity come from the item), or
/// something seen anywhere on a site. Optionally recorded as fixed on the spot.
@MainActor
struct ReportView: View {
    enum Subject {
        /// A fault of a checklist item at a visit.
        case visit(visitId: String, itemKey: String?)
        /// Anything else, on one of the user's sites.
        case site(sites: [String])
    }

    let subject: Subject
    let showsCancel: Bool
    let onReported: (Issue) -> Void

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss

    @State private var title: String
    @State private var note: String
    @State private var photos: [String]
    @State private var fixedOnSpot: Bool
    @State private var siteId: String
    @State private var category: IssueCategory = .facility
    @State private var severity: Severity = .routine
    @State private var isSubmitting = false
    @State private var alert: AlertMessage?

    init(
        subject: Subject,
        title: String = "",
        note: String = "",
        photos: [String] = [],
        fixedOnSpot: Bool = false,
        showsCancel: Bool = false,
        onReported: @escaping (Issue) -> Void
    ) {
        self.subject = subject
        self.showsCancel = showsCancel
        self.onReported = onReported
        _title = State(initialValue: title)
        _note = State(initialValue: note)
        _photos = State(initialValue: photos)
        _fixedOnSpot = State(initialValue: fixedOnSpot)
        if case let .site(sites) = subject {
            _siteId = State(initialValue: sites.first ?? "")
        } else {
            _siteId = State(initialValue: "")
        }
    }

    var body: some View {
        Form {
            Section {
                TextField("report.titleField", text: $title)
                TextField("report.note", text: $note, axis: .vertical)
                    .lineLimit(3...8)
            } header: {
                Text("report.what")
            }

            if case let .site(sites) = subject {
                Section {
                    if sites.count > 1 {
                        Picker("report.site", selection: $siteId) {
                            ForEach(sites, id: \.self) { site in
                                Text(site).tag(site)
                            }
                        }
                    }
                    Picker("report.category", selection: $category) {
                        ForEach(Labels.categories, id: \.self) { option in
                            Text(Labels.category(option)).tag(option)
                        }
                    }
                    Picker("report.severity", selection: $severity) {
                        ForEach(Labels.severities, id: \.self) { option in
                            Text(Labels.severity(option)).tag(option)
                        }
                    }
                } header: {
                    Text("report.where")
                } footer: {
                    Text("report.severity.footer")
                }
            }

            Section {
                PhotoStrip(photoIds: $photos)
            } header: {
                Text("report.photos")
            }

            Section {
                Toggle("report.fixedOnSpot", isOn: $fixedOnSpot)
            } footer: {
                Text("report.fixedOnSpot.footer")
            }
        }
        .navigationTitle("report.title")
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            if showsCancel {
                ToolbarItem(placement: .cancellationAction) {
                    Button("common.cancel") { dismiss() }
                        .disabled(isSubmitting)
                }
            }
            ToolbarItem(placement: .confirmationAction) {
                if isSubmitting {
                    ProgressView()
                } else {
                    Button("report.submit") { submit() }
                        .disabled(!canSubmit)
                }
            }
        }
        .interactiveDismissDisabled(isSubmitting)
        .errorAlert($alert)
    }

    private var canSubmit: Bool {
        guard nonBlank(title) != nil, !isSubmitting else { return false }
        if case .site = subject {
            return !siteId.isEmpty
        }
        return true
    }

    private func submit() {
        guard canSubmit, let headline = nonBlank(title) else { return }
        isSubmitting = true
        Task {
            defer { isSubmitting = false }
            do {
                let issue: Issue
                switch subject {
                case let .visit(visitId, itemKey):
                    issue = try await repository.reportFault(
                        visitId: visitId,
                        itemKey: itemKey,
                        title: headline,
                        note: note,
                        photos: photos,
                        fixedOnSpot: fixedOnSpot
                    )
                case .site:
                    issue = try await repository.report(
                        ReportInput(
                            siteId: siteId,
                            visitId: nil,
                            itemKey: nil,
                            category: category,
                            severity: severity,
                            title: headline,
                            note: nonBlank(note),
                            photos: photos,
                            fixedOnSpot: fixedOnSpot
                        )
                    )
                }
                onReported(issue)
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// The report tab: a problem seen anywhere on the user's sites.
@MainActor
struct StandaloneReportView: View {
    let session: Session

    @EnvironmentObject private var model: AppModel
    @State private var formID = UUID()
    @State private var lastReported: Issue?

    var body: some View {
        NavigationStack {
            if session.sites.isEmpty {
                ContentUnavailableView {
                    Label("report.noSites.title", systemImage: "building.2")
                } description: {
                    Text("report.noSites.message")
                }
                .navigationTitle("report.title")
            } else {
                ReportView(subject: .site(sites: session.sites)) { reported in
                    lastReported = reported
                    formID = UUID()
                    model.startSync()
                }
                .id(formID)
                .safeAreaInset(edge: .top) {
                    if let reported = lastReported {
                        ReportedBanner(title: reported.title, team: reported.team, dueAt: reported.dueAt) {
                            lastReported = nil
                        }
                    }
                }
            }
        }
    }
}

/// "Reported: … — routed to 工程部, due …".
@MainActor
private struct ReportedBanner: View {
    let title: String
    let team: Team
    let dueAt: String
    let onClose: () -> Void

    var body: some View {
        HStack(alignment: .top, spacing: 10) {
            Image(systemName: "checkmark.circle.fill")
                .foregroundStyle(.green)
                .accessibilityHidden(true)
            VStack(alignment: .leading, spacing: 2) {
                Text("report.sent \(title)")
                    .font(.subheadline.bold())
                Text("report.routed \(Labels.team(team)) \(DueDate.describe(dueAt))")
                    .font(.caption)
                    .foregroundStyle(.secondary)
            }
            Spacer(minLength: 0)
            Button {
                onClose()
            } label: {
                Image(systemName: "xmark")
            }
            .buttonStyle(.borderless)
            .accessibilityLabel("common.close")
        }
        .padding(12)
        .background(.regularMaterial, in: RoundedRectangle(cornerRadius: 12))
        .padding(.horizontal)
        .accessibilityElement(children: .combine)
    }
}
