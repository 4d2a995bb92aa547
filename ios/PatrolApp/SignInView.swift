import PatrolKit
import SwiftUI

/// Sign in with the account the property office gave (needs the network once).
@MainActor
struct SignInView: View {
    enum Field {
        case username
        case password
    }

    @EnvironmentObject private var model: AppModel
    @State private var username = ""
    @State private var password = ""
    @State private var isSigningIn = false
    @State private var alert: AlertMessage?
    @FocusState private var focus: Field?

    var body: some View {
        NavigationStack {
            Form {
                Section {
                    VStack(spacing: 8) {
                        Image(systemName: "building.2.crop.circle")
                            .font(.system(size: 56))
                            .foregroundStyle(.tint)
                            .accessibilityHidden(true)
                        Text("app.name")
                            .font(.title2.bold())
                        Text("signin.subtitle")
                            .font(.subheadline)
                            .foregroundStyle(.secondary)
                            .multilineTextAlignment(.center)
                    }
                    .frame(maxWidth: .infinity)
                    .padding(.vertical, 8)
                }

                Section {
                    TextField("signin.username", text: $username)
                        .textContentType(.username)
                        .textInputAutocapitalization(.never)
                        .autocorrectionDisabled()
                        .focused($focus, equals: .username)
                        .submitLabel(.next)
                        .onSubmit { focus = .password }
                    SecureField("signin.password", text: $password)
                        .textContentType(.password)
                        .focused($focus, equals: .password)
                        .submitLabel(.go)
                        .onSubmit(signIn)
                } footer: {
                    Text("signin.footer")
                }

                Section {
                    Button(action: signIn) {
                        HStack {
                            Spacer()
                            if isSigningIn {
                                ProgressView()
                                    .accessibilityLabel("signin.inProgress")
                            } else {
                                Text("signin.button")
                                    .bold()
                            }
                            Spacer()
                        }
                    }
                    .disabled(!canSubmit)
                } footer: {
                    Text("signin.server \(AppConfig.serverURL)")
                }
            }
            .navigationTitle("signin.title")
            .errorAlert($alert)
            .onAppear { focus = .username }
        }
    }

    private var canSubmit: Bool {
        nonBlank(username) != nil && !password.isEmpty && !isSigningIn
    }

    private func signIn() {
        guard canSubmit else { return }
        focus = nil
        isSigningIn = true
        Task {
            defer { isSigningIn = false }
            do {
                try await model.signIn(username: username, password: password)
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}
