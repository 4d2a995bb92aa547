import Foundation
import PatrolKit
import UserNotifications

/// The signed-in person's alerts as local notifications: after each background sync, every
/// open alert not shown before is posted to `UNUserNotificationCenter`, and the notifications
/// of alerts acknowledged since are taken away. Which alerts were shown is kept per user, so a
/// shared phone neither shows the next person what the previous one saw nor hides from them
/// what they have not.
///
/// (`PatrolKit.Alert` is written out in full: SwiftUI has an `Alert` of its own.)
enum AlertNotifications {
    /// The `userInfo` key of the alert id; a tap on the notification opens the alerts tab.
    static let alertIdKey = "alert_id"

    private static func shownKey(_ userId: String) -> String { "alerts.shown.\(userId)" }

    /// Ask once whether the app may show alerts (after sign-in). A refusal leaves the alerts tab.
    static func requestAuthorization() async {
        do {
            _ = try await UNUserNotificationCenter.current().requestAuthorization(options: [.alert, .sound, .badge])
        } catch {
            // Asked and not answered: the alerts tab still lists them.
        }
    }

    /// Post the alerts that are new since the last call; withdraw those no longer open.
    static func showNew(repository: PatrolRepository, userId: String) async {
        let current: [PatrolKit.Alert]
        do {
            current = try await repository.alerts()
        } catch {
            return
        }
        let center = UNUserNotificationCenter.current()
        let defaults = UserDefaults.standard
        let shown = Set(defaults.stringArray(forKey: shownKey(userId)) ?? [])
        let openIds = Set(current.map { $0.id })
        center.removeDeliveredNotifications(withIdentifiers: Array(shown.subtracting(openIds)))

        let settings = await center.notificationSettings()
        let allowed = settings.authorizationStatus == .authorized || settings.authorizationStatus == .provisional
        var posted = shown.intersection(openIds)
        if allowed {
            // Oldest first, so that the newest ends on top.
            for alert in current.filter({ !shown.contains($0.id) }).sorted(by: { $0.raisedAt < $1.raisedAt }) {
                let request = UNNotificationRequest(identifier: alert.id, content: content(for: alert), trigger: nil)
                do {
                    try await center.add(request)
                    posted.insert(alert.id)
                } catch {
                    // Not posted, so not remembered: the next sync tries again.
                }
            }
        }
        defaults.set(Array(posted), forKey: shownKey(userId))
    }

    private static func content(for alert: PatrolKit.Alert) -> UNMutableNotificationContent {
        let content = UNMutableNotificationContent()
        content.title = Labels.alertKind(alert.kind)
        // The server writes every alert in both languages; the phone's language comes first.
        let chineseFirst = Locale.current.language.languageCode?.identifier == "zh"
        content.body = chineseFirst ? "\(alert.textZh)\n\(alert.textEn)" : "\(alert.textEn)\n\(alert.textZh)"
        content.sound = .default
        content.threadIdentifier = "alerts"
        content.userInfo = [alertIdKey: alert.id]
        if alert.kind == .urgent || alert.kind == .major {
            // Someone must go now: through Focus, where the person allows it.
            content.interruptionLevel = .timeSensitive
        }
        return content
    }
}

/// Shows alert notifications while the app is open too, and sends a tap to the alerts tab.
final class AlertNotificationDelegate: NSObject, UNUserNotificationCenterDelegate {
    private weak var model: AppModel?

    init(model: AppModel) {
        self.model = model
    }

    func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        willPresent notification: UNNotification
    ) async -> UNNotificationPresentationOptions {
        [.banner, .list, .sound]
    }

    func userNotificationCenter(
        _ center: UNUserNotificationCenter,
        didReceive response: UNNotificationResponse
    ) async {
        guard response.notification.request.content.userInfo[AlertNotifications.alertIdKey] != nil else { return }
        await MainActor.run {
            model?.openAlertsRequested = true
        }
    }
}
