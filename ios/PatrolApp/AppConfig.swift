import Foundation

/// Build-time settings and where the engine keeps its data.
enum AppConfig {
    /// The sync server, from the `PatrolServerURL` Info.plist key (the `PATROL_SERVER_URL`
    /// build setting). The simulator reaches a server on the Mac at 127.0.0.1.
    static var serverURL: String {
        let configured = (Bundle.main.object(forInfoDictionaryKey: "PatrolServerURL") as? String)?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        if configured.isEmpty || configured.hasPrefix("$(") {
            return "http://127.0.0.1:8080"
        }
        return configured
    }

    /// Application Support/Patrol: the database and the photo folder beside it.
    static func dataDirectory() throws -> URL {
        let base = try FileManager.default.url(
            for: .applicationSupportDirectory,
            in: .userDomainMask,
            appropriateFor: nil,
            create: true
        )
        return base.appendingPathComponent("Patrol", isDirectory: true)
    }
}

/// The language the app shows, for data that comes in both (checklist questions).
enum AppLanguage {
    static var isChinese: Bool {
        (Bundle.main.preferredLocalizations.first ?? "zh-Hans").hasPrefix("zh")
    }

    static func pick(zh: String, en: String) -> String {
        isChinese || en.isEmpty ? zh : en
    }
}
