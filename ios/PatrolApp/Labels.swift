import Foundation
import PatrolKit
import SwiftUI

/// Names for people of the engine's values (categories, statuses, roles…).
enum Labels {
    /// In the order the report form offers them.
    static let categories: [IssueCategory] = [
        .facility, .cleaning, .landscaping, .security, .fire, .renovation, .residentViolation, .staff,
    ]

    /// Mildest first.
    static let severities: [Severity] = [.routine, .major, .urgent]

    static func category(_ category: IssueCategory) -> String {
        switch category {
        case .facility: return String(localized: "category.facility")
        case .cleaning: return String(localized: "category.cleaning")
        case .landscaping: return String(localized: "category.landscaping")
        case .security: return String(localized: "category.security")
        case .fire: return String(localized: "category.fire")
        case .renovation: return String(localized: "category.renovation")
        case .residentViolation: return String(localized: "category.residentViolation")
        case .staff: return String(localized: "category.staff")
        }
    }

    static func severity(_ severity: Severity) -> String {
        switch severity {
        case .routine: return String(localized: "severity.routine")
        case .major: return String(localized: "severity.major")
        case .urgent: return String(localized: "severity.urgent")
        }
    }

    static func status(_ status: IssueStatus) -> String {
        switch status {
        case .open: return String(localized: "status.open")
        case .assigned: return String(localized: "status.assigned")
        case .inProgress: return String(localized: "status.inProgress")
        case .resolved: return String(localized: "status.resolved")
        case .closed: return String(localized: "status.closed")
        }
    }

    static func team(_ team: Team) -> String {
        switch team {
        case .engineering: return String(localized: "team.engineering")
        case .cleaning: return String(localized: "team.cleaning")
        case .landscaping: return String(localized: "team.landscaping")
        case .security: return String(localized: "team.security")
        case .customerService: return String(localized: "team.customerService")
        case .management: return String(localized: "team.management")
        }
    }

    static func role(_ role: Role) -> String {
        switch role {
        case .patrol: return String(localized: "role.patrol")
        case .technician: return String(localized: "role.technician")
        case .supervisor: return String(localized: "role.supervisor")
        case .manager: return String(localized: "role.manager")
        case .admin: return String(localized: "role.admin")
        }
    }

    static func outcome(_ outcome: Outcome) -> String {
        switch outcome {
        case .ok: return String(localized: "outcome.ok")
        case .fault: return String(localized: "outcome.fault")
        case .na: return String(localized: "outcome.na")
        }
    }

    static func phase(_ phase: SyncPhase) -> String {
        switch phase {
        case .photos: return String(localized: "sync.phase.photos")
        case .ops: return String(localized: "sync.phase.ops")
        case .pull: return String(localized: "sync.phase.pull")
        }
    }

    /// An SF Symbol for how an item is checked (look, listen, touch, ask).
    static func methodSymbol(_ method: ChecklistMethod) -> String {
        switch method {
        case .look: return "eye"
        case .listen: return "ear"
        case .touch: return "hand.point.up.left"
        case .ask: return "questionmark.bubble"
        }
    }

    static func method(_ method: ChecklistMethod) -> String {
        switch method {
        case .look: return String(localized: "method.look")
        case .listen: return String(localized: "method.listen")
        case .touch: return String(localized: "method.touch")
        case .ask: return String(localized: "method.ask")
        }
    }

    /// A scan's plausibility flag, with its numbers. (They are `Int`s here so that the
    /// localized keys stay `%lld`.)
    static func scanFlag(_ flag: ScanFlag) -> String {
        switch flag {
        case let .tooFast(_, secs, minSecs):
            return String(localized: "flag.tooFast \(Int(secs)) \(Int(minSecs))")
        case let .repeatScan(secs):
            return String(localized: "flag.repeatScan \(Int(secs))")
        case let .roundTooShort(secs, minSecs):
            return String(localized: "flag.roundTooShort \(Int(secs) / 60) \(Int(minSecs) / 60)")
        }
    }
    static func alertKind(_ kind: AlertKind) -> String {
        switch kind {
        case .urgent: return String(localized: "alert.kind.urgent")
        case .major: return String(localized: "alert.kind.major")
        case .overdue: return String(localized: "alert.kind.overdue")
        case .roundMissed: return String(localized: "alert.kind.roundMissed")
        case .roundIncomplete: return String(localized: "alert.kind.roundIncomplete")
        }
    }

    /// An RFC 3339 time from the engine as a date and time of the phone's locale.
    static func dateTime(_ text: String) -> String {
        DueDate.parse(text)?.formatted(date: .abbreviated, time: .shortened) ?? text
    }
}

/// How an issue's SLA state is shown: 按时 / 即将到期 / 已超时.
extension SlaState {
    var title: String {
        switch self {
        case .onTrack: return String(localized: "sla.onTrack")
        case .dueSoon: return String(localized: "sla.dueSoon")
        case .overdue: return String(localized: "sla.overdue")
        }
    }

    var color: Color {
        switch self {
        case .onTrack: return .green
        case .dueSoon: return .orange
        case .overdue: return .red
        }
    }

    var symbol: String {
        switch self {
        case .onTrack: return "checkmark.circle"
        case .dueSoon: return "clock.badge.exclamationmark"
        case .overdue: return "exclamationmark.octagon"
        }
    }
}

/// Due times: RFC 3339 from the engine (possibly with fractional seconds).
enum DueDate {
    static func parse(_ text: String) -> Date? {
        let whole = text.replacingOccurrences(of: "\\.[0-9]+", with: "", options: .regularExpression)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: whole)
    }

    /// "5月3日 14:00（2天后）" / "May 3, 2:00 PM (in 2 days)".
    static func describe(_ text: String) -> String {
        guard let date = parse(text) else { return text }
        let absolute = date.formatted(date: .abbreviated, time: .shortened)
        let relative = date.formatted(.relative(presentation: .named))
        return String(localized: "due.format \(absolute) \(relative)")
    }
}

/// An issue presented in a sheet.
struct IssueSelection: Identifiable {
    let issue: Issue

    var id: String {
        issue.id
    }
}

/// `text` without surrounding spaces, or nil when nothing is left.
func nonBlank(_ text: String) -> String? {
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return trimmed.isEmpty ? nil : trimmed
}
