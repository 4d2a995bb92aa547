import PatrolKit
import SwiftUI

/// What the user has entered for one item, before and after it is recorded.
struct ItemDraft: Equatable {
    var outcome: Outcome?
    var readingText = ""
    var text = ""
    var note = ""
    var photos: [String] = []
}

/// What happened to a fault found at this visit.
enum FaultFollowUp: Equatable {
    case reported
    case fixedOnSpot
}

/// A fault to report from the checklist.
struct FaultReportRequest: Identifiable {
    let itemKey: String
    let title: String
    let note: String
    let photos: [String]
    let fixedOnSpot: Bool

    var id: String {
        itemKey
    }
}

/// The rules the screen applies before recording (the engine checks them again).
enum ItemRules {
    static func reading(_ text: String) -> Double? {
        let normalized = text.replacingOccurrences(of: ",", with: ".")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return Double(normalized)
    }

    static func isOutOfRange(_ value: Double, item: ChecklistItem) -> Bool {
        if let low = item.normalMin, value < low {
            return true
        }
        if let high = item.normalMax, value > high {
            return true
        }
        return false
    }

    /// Whether the draft describes a fault (a fault mark, or a reading out of range).
    static func isFault(_ draft: ItemDraft, item: ChecklistItem) -> Bool {
        switch item.kind {
        case .check:
            return draft.outcome == .fault
        case .reading:
            guard let value = reading(draft.readingText) else { return false }
            return isOutOfRange(value, item: item)
        case .text:
            return false
        }
    }

    static func needsPhoto(_ draft: ItemDraft, item: ChecklistItem) -> Bool {
        item.photoOnFault && isFault(draft, item: item) && draft.photos.isEmpty
    }

    /// The answer to record, or nil while the draft is incomplete.
    static func answer(for draft: ItemDraft, item: ChecklistItem) -> ItemAnswer? {
        guard !needsPhoto(draft, item: item) else { return nil }
        let note = nonBlank(draft.note)
        switch item.kind {
        case .reading:
            guard let value = reading(draft.readingText) else { return nil }
            return .reading(value, note: note, photos: draft.photos)
        case .text:
            guard let text = nonBlank(draft.text) else { return nil }
            return .text(text, photos: draft.photos)
        case .check:
            guard let outcome = draft.outcome else { return nil }
            return .mark(outcome, note: outcome == .ok ? nil : note, photos: draft.photos)
        }
    }

    /// "正常范围 0.1–0.8 MPa".
    static func normalRange(_ item: ChecklistItem) -> String? {
        let unit = item.unit ?? ""
        switch (item.normalMin, item.normalMax) {
        case let (low?, high?):
            return String(localized: "reading.range \(format(low)) \(format(high)) \(unit)")
        case let (low?, nil):
            return String(localized: "reading.atLeast \(format(low)) \(unit)")
        case let (nil, high?):
            return String(localized: "reading.atMost \(format(high)) \(unit)")
        case (nil, nil):
            return nil
        }
    }

    private static func format(_ value: Double) -> String {
        value.formatted(.number.precision(.fractionLength(0...3)))
    }
}

/// A checkpoint's checklist: answer each item, photograph and report faults, or record them
/// as fixed on the spot.
@MainActor
struct ChecklistView: View {
    let scan: Scan

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss

    @State private var drafts: [String: ItemDraft] = [:]
    /// What was recorded for each item, and from which draft.
    @State private var recorded: [String: Outcome] = [:]
    @State private var recordedDrafts: [String: ItemDraft] = [:]
    @State private var followUps: [String: FaultFollowUp] = [:]
    @State private var savingKeys: Set<String> = []
    @State private var reportRequest: FaultReportRequest?
    @State private var confirmLeave = false
    @State private var alert: AlertMessage?

    var body: some View {
        List {
            Section {
                header
            }
            ForEach(scan.items, id: \.key) { item in
                Section {
                    ChecklistItemCard(
                        item: item,
                        draft: draftBinding(for: item),
                        recorded: recorded[item.key],
                        isRecordedAsIs: recordedDrafts[item.key] == drafts[item.key] && recorded[item.key] != nil,
                        followUp: followUps[item.key],
                        isSaving: savingKeys.contains(item.key),
                        onRecord: { Task { await record(item) } },
                        onReport: { fixed in requestReport(item, fixedOnSpot: fixed) }
                    )
                }
            }
        }
        .navigationTitle(scan.checkpointName)
        .navigationBarTitleDisplayMode(.inline)
        .navigationBarBackButtonHidden(true)
        .toolbar {
            ToolbarItem(placement: .cancellationAction) {
                Button("checklist.done") { leave() }
            }
            ToolbarItem(placement: .primaryAction) {
                Button("checklist.allOk") {
                    Task { await markRemainingOk() }
                }
                .disabled(remainingChecks.isEmpty || !savingKeys.isEmpty)
                .accessibilityHint(Text("checklist.allOk.hint"))
            }
        }
        .safeAreaInset(edge: .bottom) {
            Button {
                leave()
            } label: {
                Group {
                    if unansweredCount == 0 {
                        Text("checklist.finishPoint")
                    } else {
                        Text("checklist.remaining \(unansweredCount)")
                    }
                }
                .font(.headline)
                .frame(maxWidth: .infinity)
            }
            .buttonStyle(.borderedProminent)
            .controlSize(.large)
            .padding()
            .background(.bar)
        }
        .sheet(item: $reportRequest) { request in
            NavigationStack {
                ReportView(
                    subject: .visit(visitId: scan.visitId, itemKey: request.itemKey),
                    title: request.title,
                    note: request.note,
                    photos: request.photos,
                    fixedOnSpot: request.fixedOnSpot,
                    showsCancel: true
                ) { reported in
                    followUps[request.itemKey] = reported.status == .closed ? .fixedOnSpot : .reported
                    reportRequest = nil
                    model.startSync()
                }
            }
        }
        .confirmationDialog("checklist.leave.title", isPresented: $confirmLeave, titleVisibility: .visible) {
            Button("checklist.leave.confirm", role: .destructive) { dismiss() }
            Button("checklist.leave.stay", role: .cancel) {}
        } message: {
            Text("checklist.leave.message \(unansweredCount) \(unreportedFaults)")
        }
        .errorAlert($alert)
    }

    private var header: some View {
        VStack(alignment: .leading, spacing: 6) {
            Text(scan.checkpointName)
                .font(.title3.bold())
            Label(scan.zoneName, systemImage: "square.dashed")
                .font(.subheadline)
                .foregroundStyle(.secondary)
            ForEach(scan.flags, id: \.self) { flag in
                Label(Labels.scanFlag(flag), systemImage: "exclamationmark.triangle.fill")
                    .font(.footnote)
                    .foregroundStyle(.orange)
            }
        }
        .padding(.vertical, 4)
    }

    /// Check items with nothing recorded and no other mark chosen.
    private var remainingChecks: [ChecklistItem] {
        scan.items.filter { item in
            item.kind == .check && recorded[item.key] == nil && (drafts[item.key]?.outcome ?? .ok) == .ok
        }
    }

    private var unansweredCount: Int {
        scan.items.filter { item in recorded[item.key] == nil }.count
    }

    private var unreportedFaults: Int {
        recorded.filter { entry in entry.value == .fault && followUps[entry.key] == nil }.count
    }

    private func draftBinding(for item: ChecklistItem) -> Binding<ItemDraft> {
        let key = item.key
        return Binding(
            get: { drafts[key] ?? ItemDraft() },
            set: { changed in
                let before = drafts[key]?.outcome
                drafts[key] = changed
                // 正常 / 不适用 need nothing more: record at once.
                if item.kind == .check, changed.outcome != before,
                   changed.outcome == .ok || changed.outcome == .na {
                    Task { await record(item) }
                }
            }
        )
    }

    private func record(_ item: ChecklistItem) async {
        let key = item.key
        let draft = drafts[key] ?? ItemDraft()
        guard let answer = ItemRules.answer(for: draft, item: item), !savingKeys.contains(key) else { return }
        savingKeys.insert(key)
        defer { savingKeys.remove(key) }
        do {
            let outcome = try await repository.answer(visitId: scan.visitId, item: item, answer: answer)
            recorded[key] = outcome
            recordedDrafts[key] = draft
            if outcome != .fault {
                followUps[key] = nil
            }
        } catch {
            alert = AlertMessage(error)
        }
    }

    private func markRemainingOk() async {
        for item in remainingChecks {
            var draft = drafts[item.key] ?? ItemDraft()
            draft.outcome = .ok
            drafts[item.key] = draft
            await record(item)
        }
    }

    private func requestReport(_ item: ChecklistItem, fixedOnSpot: Bool) {
        let draft = drafts[item.key] ?? ItemDraft()
        reportRequest = FaultReportRequest(
            itemKey: item.key,
            title: AppLanguage.pick(zh: item.textZh, en: item.textEn),
            note: draft.note,
            photos: draft.photos,
            fixedOnSpot: fixedOnSpot
        )
    }

    private func leave() {
        if unansweredCount > 0 || unreportedFaults > 0 {
            confirmLeave = true
        } else {
            dismiss()
        }
    }
}
