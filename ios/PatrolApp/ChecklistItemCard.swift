import PatrolKit
import SwiftUI

/// One checklist item: the question, its answer controls, a fault's note and photos, and what
/// to do about a recorded fault.
@MainActor
struct ChecklistItemCard: View {
    let item: ChecklistItem
    @Binding var draft: ItemDraft
    /// The outcome the engine recorded, if any.
    let recorded: Outcome?
    /// Whether what is on screen is what was recorded.
    let isRecordedAsIs: Bool
    let followUp: FaultFollowUp?
    let isSaving: Bool
    let onRecord: () -> Void
    let onReport: (_ fixedOnSpot: Bool) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 10) {
            question
            controls
            if showsFaultDetails {
                faultDetails
            }
            footer
        }
        .padding(.vertical, 4)
    }

    private var question: some View {
        HStack(alignment: .firstTextBaseline, spacing: 8) {
            Image(systemName: Labels.methodSymbol(item.method))
                .foregroundStyle(.secondary)
                .accessibilityLabel(Text(Labels.method(item.method)))
            VStack(alignment: .leading, spacing: 4) {
                Text(AppLanguage.pick(zh: item.textZh, en: item.textEn))
                    .font(.body.weight(.medium))
                if let hint = item.hintZh {
                    Label(hint, systemImage: "lightbulb")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                }
            }
            Spacer(minLength: 0)
            if let outcome = recorded {
                OutcomeBadge(outcome: outcome)
            }
        }
    }

    @ViewBuilder
    private var controls: some View {
        switch item.kind {
        case .reading:
            VStack(alignment: .leading, spacing: 4) {
                HStack {
                    TextField("reading.placeholder", text: $draft.readingText)
                        .keyboardType(.decimalPad)
                        .textFieldStyle(.roundedBorder)
                    if let unit = item.unit {
                        Text(unit)
                            .foregroundStyle(.secondary)
                    }
                }
                if let range = ItemRules.normalRange(item) {
                    Text(range)
                        .font(.caption)
                        .foregroundStyle(.secondary)
                }
                if readingIsInvalid {
                    Label("reading.invalid", systemImage: "xmark.circle")
                        .font(.caption)
                        .foregroundStyle(.red)
                } else if ItemRules.isFault(draft, item: item) {
                    Label("reading.outOfRange", systemImage: "exclamationmark.triangle.fill")
                        .font(.caption)
                        .foregroundStyle(.orange)
                }
            }
        case .text:
            TextField("text.placeholder", text: $draft.text, axis: .vertical)
                .lineLimit(2...5)
                .textFieldStyle(.roundedBorder)
        case .check:
            Picker("checklist.outcome", selection: $draft.outcome) {
                Text("outcome.ok").tag(Optional(Outcome.ok))
                Text("outcome.fault").tag(Optional(Outcome.fault))
                Text("outcome.na").tag(Optional(Outcome.na))
            }
            .pickerStyle(.segmented)
            .labelsHidden()
            .disabled(isSaving)
        }
    }

    private var faultDetails: some View {
        VStack(alignment: .leading, spacing: 8) {
            TextField("fault.note.placeholder", text: $draft.note, axis: .vertical)
                .lineLimit(1...4)
                .textFieldStyle(.roundedBorder)
            PhotoStrip(photoIds: $draft.photos, isRequired: item.photoOnFault)
        }
    }

    @ViewBuilder
    private var footer: some View {
        if isSaving {
            HStack(spacing: 8) {
                ProgressView()
                Text("checklist.saving")
                    .font(.caption)
                    .foregroundStyle(.secondary)
            }
        } else if !isRecordedAsIs && hasInput {
            Button(action: onRecord) {
                Label(recordTitle, systemImage: "square.and.arrow.down")
            }
            .buttonStyle(.borderedProminent)
            .tint(ItemRules.isFault(draft, item: item) ? .red : .accentColor)
            .disabled(ItemRules.answer(for: draft, item: item) == nil)
        } else if isRecordedAsIs && recorded == .fault {
            if followUp == .reported {
                Label("fault.reported", systemImage: "paperplane.fill")
                    .font(.callout)
                    .foregroundStyle(.blue)
            } else if followUp == .fixedOnSpot {
                Label("fault.fixedOnSpot", systemImage: "wrench.adjustable")
                    .font(.callout)
                    .foregroundStyle(.green)
            } else {
                HStack(spacing: 8) {
                    Button("fault.report") { onReport(false) }
                        .buttonStyle(.borderedProminent)
                        .tint(.red)
                    Button("fault.fixOnSpot") { onReport(true) }
                        .buttonStyle(.bordered)
                }
            }
        }
    }

    private var showsFaultDetails: Bool {
        ItemRules.isFault(draft, item: item) || (isRecordedAsIs && recorded == .fault)
    }

    private var hasInput: Bool {
        draft.outcome != nil || !draft.readingText.isEmpty || !draft.text.isEmpty
    }

    private var readingIsInvalid: Bool {
        !draft.readingText.isEmpty && ItemRules.reading(draft.readingText) == nil
    }

    private var recordTitle: LocalizedStringKey {
        if recorded != nil {
            return "checklist.update"
        }
        return ItemRules.isFault(draft, item: item) ? "checklist.recordFault" : "checklist.record"
    }
}

/// The recorded outcome as a coloured capsule.
struct OutcomeBadge: View {
    let outcome: Outcome

    var body: some View {
        Text(Labels.outcome(outcome))
            .font(.caption.bold())
            .padding(.horizontal, 8)
            .padding(.vertical, 3)
            .foregroundStyle(.white)
            .background(color, in: Capsule())
            .accessibilityLabel(Text("checklist.recordedAs \(Labels.outcome(outcome))"))
    }

    private var color: Color {
        switch outcome {
        case .ok: return .green
        case .fault: return .red
        case .na: return .gray
        }
    }
}
