import PatrolKit
import SwiftUI

/// The sentence to show for an error: the engine's own ("中文 / English") or the system's.
enum ErrorText {
    static func message(for error: Error) -> String {
        if let failure = error as? PatrolError {
            return failure.message
        }
        return error.localizedDescription
    }
}

/// An error to show in an alert.
struct AlertMessage: Identifiable, Equatable {
    let id = UUID()
    let text: String
    /// The session is over: confirming the alert goes back to sign-in.
    let needsSignIn: Bool

    /// Nil for a cancellation, which the user asked for and needs no alert.
    init?(_ error: Error) {
        if error is CancellationError {
            return nil
        }
        if let failure = error as? PatrolError {
            if case .Cancelled = failure {
                return nil
            }
            text = failure.message
            needsSignIn = failure.needsSignIn
        } else {
            text = error.localizedDescription
            needsSignIn = false
        }
    }

    init(text: String) {
        self.text = text
        needsSignIn = false
    }
}

private struct ErrorAlertModifier: ViewModifier {
    @Binding var message: AlertMessage?
    @EnvironmentObject private var model: AppModel

    func body(content: Content) -> some View {
        content.alert(
            "error.title",
            isPresented: Binding(
                get: { message != nil },
                set: { shown in
                    if !shown {
                        message = nil
                    }
                }
            ),
            presenting: message
        ) { shown in
            Button("common.ok", role: .cancel) {
                if shown.needsSignIn {
                    model.sessionExpired()
                }
            }
        } message: { shown in
            Text(shown.text)
        }
    }
}

extension View {
    /// Shows `message` in an alert while it is set.
    func errorAlert(_ message: Binding<AlertMessage?>) -> some View {
        modifier(ErrorAlertModifier(message: message))
    }
}
