import PatrolKit
import SwiftUI

/// A round under way: how far it has got, the checkpoints left, scanning, a visit without a
/// label, and finishing (with a reason for each checkpoint missed).
@MainActor
struct RoundView: View {
    let runId: String
    let routeName: String

    @EnvironmentObject private var repository: PatrolRepository
    @EnvironmentObject private var model: AppModel
    @Environment(\.dismiss) private var dismiss

    @State private var progress: PatrolKit.Progress?
    @State private var loadFailure: String?
    @State private var showScanner = false
    /// The code the scanner read, acted on once its cover has gone (an alert or a push started
    /// while the cover is still animating away is dropped).
    @State private var scannedCode: String?
    @State private var activeScan: Scan?
    @State private var manualVisit: ManualVisitRequest?
    /// The visit just recorded without a label, opened once its sheet has gone.
    @State private var manualScan: Scan?
    @State private var labelProblem: String?
    @State private var showFinish = false
    @State private var confirmFinish = false
    @State private var isWorking = false
    @State private var alert: AlertMessage?

    var body: some View {
        Group {
            if let progress = progress {
                roundList(progress)
            } else if let failure = loadFailure {
                ContentUnavailableView {
                    Label("round.loadFailed", systemImage: "exclamationmark.triangle")
                } description: {
                    Text(failure)
                } actions: {
                    Button("common.retry") {
                        Task { await load() }
                    }
                }
            } else {
                ProgressView("common.loading")
            }
        }
        .navigationTitle(routeName)
        .navigationBarTitleDisplayMode(.inline)
        .safeAreaInset(edge: .bottom) { actionBar }
        .overlay {
            if isWorking {
                WorkingOverlay()
            }
        }
        .task { await load() }
        .fullScreenCover(isPresented: $showScanner, onDismiss: scannerDismissed) {
            ScannerView { code in
                scannedCode = code
                showScanner = false
            }
        }
        .navigationDestination(item: $activeScan) { visit in
            ChecklistView(scan: visit)
        }
        .onChange(of: activeScan) { _, current in
            // Back from a checkpoint's checklist.
            if current == nil {
                Task { await load() }
            }
        }
        .sheet(item: $manualVisit, onDismiss: manualVisitDismissed) { request in
            ManualVisitSheet(places: progress?.remaining ?? [], preselected: request.checkpointId) { checkpointId, reason in
                let visit = try await repository.visitWithoutLabel(
                    runId: runId,
                    checkpointId: checkpointId,
                    reason: reason
                )
                manualScan = visit
                manualVisit = nil
            }
        }
        .sheet(isPresented: $showFinish) {
            FinishRoundSheet(missed: progress?.remaining ?? []) { reasons in
                try await finish(missed: reasons)
            }
        }
        .confirmationDialog("round.finish.confirm", isPresented: $confirmFinish, titleVisibility: .visible) {
            Button("round.finish") {
                Task { await finishComplete() }
            }
        }
        .alert("round.badLabel.title", isPresented: labelAlertShown, presenting: labelProblem) { _ in
            Button("round.scanAgain") { showScanner = true }
            Button("round.visitWithoutLabel") { manualVisit = ManualVisitRequest(checkpointId: nil) }
            Button("common.cancel", role: .cancel) {}
        } message: { problem in
            Text(problem)
        }
        .errorAlert($alert)
    }

    private func roundList(_ progress: PatrolKit.Progress) -> some View {
        List {
            Section {
                RoundProgressCard(progress: progress)
            }
            Section {
                if progress.remaining.isEmpty {
                    Label("round.allVisited", systemImage: "checkmark.seal.fill")
                        .foregroundStyle(.green)
                } else {
                    ForEach(progress.remaining, id: \.checkpointId) { place in
                        HStack {
                            Label(place.name, systemImage: "mappin.circle")
                            Spacer()
                            Button("round.noLabel") {
                                manualVisit = ManualVisitRequest(checkpointId: place.checkpointId)
                            }
                            .buttonStyle(.bordered)
                            .controlSize(.small)
                            .accessibilityHint(Text("round.noLabel.hint"))
                        }
                    }
                }
            } header: {
                Text("round.remaining \(progress.remaining.count)")
            } footer: {
                Text("round.remaining.footer")
            }
        }
    }

    private var actionBar: some View {
        VStack(spacing: 8) {
            Button {
                showScanner = true
            } label: {
                Label("round.scan", systemImage: "qrcode.viewfinder")
                    .font(.headline)
                    .frame(maxWidth: .infinity)
            }
            .buttonStyle(.borderedProminent)
            .controlSize(.large)
            Button {
                requestFinish()
            } label: {
                Text("round.finish")
                    .frame(maxWidth: .infinity)
            }
            .buttonStyle(.bordered)
        }
        .padding()
        .background(.bar)
        .disabled(progress == nil || isWorking)
    }

    private var labelAlertShown: Binding<Bool> {
        Binding(
            get: { labelProblem != nil },
            set: { shown in
                if !shown {
                    labelProblem = nil
                }
            }
        )
    }

    private func load() async {
        do {
            progress = try await repository.progress(runId: runId)
            loadFailure = nil
        } catch {
            if progress == nil {
                loadFailure = ErrorText.message(for: error)
            } else {
                alert = AlertMessage(error)
            }
        }
    }

    private func scannerDismissed() {
        guard let code = scannedCode else { return }
        scannedCode = nil
        Task { await open(label: code) }
    }

    private func manualVisitDismissed() {
        guard let visit = manualScan else { return }
        manualScan = nil
        activeScan = visit
    }

    /// A label the camera read: its checklist, or why the label is no good.
    private func open(label code: String) async {
        isWorking = true
        defer { isWorking = false }
        do {
            activeScan = try await repository.scan(runId: runId, token: code)
        } catch let failure as PatrolError {
            if case .Label = failure {
                labelProblem = failure.message
            } else {
                alert = AlertMessage(failure)
            }
        } catch {
            alert = AlertMessage(error)
        }
    }

    private func requestFinish() {
        guard let progress = progress else { return }
        if progress.remaining.isEmpty {
            confirmFinish = true
        } else {
            showFinish = true
        }
    }

    private func finish(missed: [String: String]) async throws {
        try await repository.finishRound(runId: runId, missed: missed)
        showFinish = false
        model.startSync()
        dismiss()
    }

    private func finishComplete() async {
        isWorking = true
        defer { isWorking = false }
        do {
            try await finish(missed: [:])
        } catch {
            alert = AlertMessage(error)
        }
    }
}

/// A visit without a label, for one checkpoint or one to pick.
struct ManualVisitRequest: Identifiable {
    let id = UUID()
    let checkpointId: String?
}

/// Checkpoints visited of all, items answered, faults found.
@MainActor
private struct RoundProgressCard: View {
    let progress: PatrolKit.Progress

    var body: some View {
        VStack(alignment: .leading, spacing: 8) {
            Text("round.visited \(Int(progress.visited)) \(Int(progress.total))")
                .font(.title3.bold())
            ProgressView(value: Double(progress.visited), total: Double(max(progress.total, 1)))
                .accessibilityHidden(true)
            HStack(spacing: 16) {
                Label("round.answered \(Int(progress.answered))", systemImage: "checklist")
                Label("round.faults \(Int(progress.faults))", systemImage: "exclamationmark.triangle")
                    .foregroundStyle(progress.faults > 0 ? Color.orange : Color.secondary)
            }
            .font(.caption)
        }
        .padding(.vertical, 4)
        .accessibilityElement(children: .combine)
    }
}

/// A dimmed cover with a spinner while a call runs.
struct WorkingOverlay: View {
    var body: some View {
        ZStack {
            Color.black.opacity(0.15)
                .ignoresSafeArea()
            ProgressView()
                .controlSize(.large)
                .padding(24)
                .background(.regularMaterial, in: RoundedRectangle(cornerRadius: 16))
                .accessibilityLabel("common.working")
        }
    }
}
