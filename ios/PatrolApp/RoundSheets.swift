import PatrolKit
import SwiftUI

/// Why a label could not be scanned.
enum NoLabelReason: String, CaseIterable, Identifiable {
    case damaged
    case unreadable
    case unreachable
    case other

    var id: String {
        rawValue
    }

    var title: String {
        switch self {
        case .damaged: return String(localized: "noLabel.damaged")
        case .unreadable: return String(localized: "noLabel.unreadable")
        case .unreachable: return String(localized: "noLabel.unreachable")
        case .other: return String(localized: "reason.other")
        }
    }
}

/// Why a checkpoint was not visited.
enum MissedReasonChoice: String, CaseIterable, Identifiable {
    case noAccess
    case unsafe
    case noTime
    case other

    var id: String {
        rawValue
    }

    var title: String {
        switch self {
        case .noAccess: return String(localized: "missed.noAccess")
        case .unsafe: return String(localized: "missed.unsafe")
        case .noTime: return String(localized: "missed.noTime")
        case .other: return String(localized: "reason.other")
        }
    }
}

/// Record a visit without scanning: which checkpoint, and why there was no label to scan.
@MainActor
struct ManualVisitSheet: View {
    let places: [Place]
    let onVisit: (_ checkpointId: String, _ reason: String) async throws -> Void

    @Environment(\.dismiss) private var dismiss
    @State private var checkpointId: String
    @State private var reason: NoLabelReason = .damaged
    @State private var otherReason = ""
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    init(
        places: [Place],
        preselected: String?,
        onVisit: @escaping (_ checkpointId: String, _ reason: String) async throws -> Void
    ) {
        self.places = places
        self.onVisit = onVisit
        _checkpointId = State(initialValue: preselected ?? places.first?.checkpointId ?? "")
    }

    var body: some View {
        NavigationStack {
            Form {
                if places.isEmpty {
                    Section {
                        Text("manual.noPlaces")
                    }
                } else {
                    Section {
                        Picker("manual.checkpoint", selection: $checkpointId) {
                            ForEach(places, id: \.checkpointId) { place in
                                Text(place.name).tag(place.checkpointId)
                            }
                        }
                    }
                    Section {
                        Picker("manual.reason", selection: $reason) {
                            ForEach(NoLabelReason.allCases) { choice in
                                Text(choice.title).tag(choice)
                            }
                        }
                        .pickerStyle(.inline)
                        .labelsHidden()
                        if reason == .other {
                            TextField("reason.other.placeholder", text: $otherReason, axis: .vertical)
                        }
                    } header: {
                        Text("manual.reason")
                    } footer: {
                        Text("manual.footer")
                    }
                }
            }
            .navigationTitle("manual.title")
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
                        Button("manual.confirm") { save() }
                            .disabled(reasonText == nil || checkpointId.isEmpty)
                    }
                }
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    private var reasonText: String? {
        reason == .other ? nonBlank(otherReason) : reason.title
    }

    private func save() {
        guard let why = reasonText, !checkpointId.isEmpty else { return }
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                try await onVisit(checkpointId, why)
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// Finish a round with checkpoints left: a reason for each one.
@MainActor
struct FinishRoundSheet: View {
    let missed: [Place]
    let onFinish: ([String: String]) async throws -> Void

    @Environment(\.dismiss) private var dismiss
    @State private var choices: [String: MissedReasonChoice] = [:]
    @State private var otherReasons: [String: String] = [:]
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    Text("finish.explain \(missed.count)")
                    Menu("finish.applyAll") {
                        ForEach(MissedReasonChoice.allCases) { choice in
                            Button(choice.title) { applyToAll(choice) }
                        }
                    }
                }
                ForEach(missed, id: \.checkpointId) { place in
                    Section {
                        Picker("finish.reason", selection: choice(for: place.checkpointId)) {
                            Text("finish.reason.choose").tag(MissedReasonChoice?.none)
                            ForEach(MissedReasonChoice.allCases) { option in
                                Text(option.title).tag(MissedReasonChoice?.some(option))
                            }
                        }
                        if choices[place.checkpointId] == .other {
                            TextField(
                                "reason.other.placeholder",
                                text: otherReason(for: place.checkpointId),
                                axis: .vertical
                            )
                        }
                    } header: {
                        Text(place.name)
                    }
                }
            }
            .navigationTitle("finish.title")
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
                        Button("finish.confirm") { save() }
                            .disabled(reasons == nil)
                    }
                }
            }
            .interactiveDismissDisabled(isSaving)
            .errorAlert($alert)
        }
    }

    /// Every missed checkpoint with its reason, or nil while one has none.
    private var reasons: [String: String]? {
        var result: [String: String] = [:]
        for place in missed {
            guard let choice = choices[place.checkpointId] else { return nil }
            if choice == .other {
                guard let text = nonBlank(otherReasons[place.checkpointId] ?? "") else { return nil }
                result[place.checkpointId] = text
            } else {
                result[place.checkpointId] = choice.title
            }
        }
        return result
    }

    private func choice(for checkpointId: String) -> Binding<MissedReasonChoice?> {
        Binding(
            get: { choices[checkpointId] },
            set: { value in choices[checkpointId] = value }
        )
    }

    private func otherReason(for checkpointId: String) -> Binding<String> {
        Binding(
            get: { otherReasons[checkpointId] ?? "" },
            set: { value in otherReasons[checkpointId] = value }
        )
    }

    private func applyToAll(_ choice: MissedReasonChoice) {
        for place in missed {
            choices[place.checkpointId] = choice
        }
    }

    private func save() {
        guard let reasons = reasons else { return }
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                try await onFinish(reasons)
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}
