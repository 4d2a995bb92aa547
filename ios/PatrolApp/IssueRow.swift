import PatrolKit
import SwiftUI

/// An issue as lists show it: title, SLA state, category, severity, status and due time.
@MainActor
struct IssueRow: View {
    let issue: Issue

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            HStack(alignment: .firstTextBaseline) {
                Text(issue.title)
                    .font(.headline)
                Spacer(minLength: 8)
                if let sla = issue.sla {
                    SLABadge(state: sla)
                }
            }
            HStack(spacing: 6) {
                Text(Labels.category(issue.category))
                Text(verbatim: "·")
                Text(Labels.severity(issue.severity))
                    .foregroundStyle(issue.severity == .urgent ? Color.red : Color.secondary)
                Text(verbatim: "·")
                Text(Labels.status(issue.status))
            }
            .font(.caption)
            .foregroundStyle(.secondary)
            Label(DueDate.describe(issue.dueAt), systemImage: "clock")
                .font(.caption)
                .foregroundStyle(.secondary)
                .accessibilityLabel(Text("issue.due \(DueDate.describe(issue.dueAt))"))
        }
        .padding(.vertical, 2)
    }
}

/// 按时 / 即将到期 / 已超时.
struct SLABadge: View {
    let state: SlaState

    var body: some View {
        Label(state.title, systemImage: state.symbol)
            .font(.caption.bold())
            .padding(.horizontal, 8)
            .padding(.vertical, 3)
            .foregroundStyle(state.color)
            .background(state.color.opacity(0.15), in: Capsule())
    }
}
