import AVFoundation
import SwiftUI
import UIKit

/// Full-screen QR scanner for checkpoint labels. Calls `onCode` once with the label's text.
@MainActor
struct ScannerView: View {
    let onCode: (String) -> Void

    enum CameraAccess {
        case checking
        case granted
        case denied
        case unavailable
    }

    @Environment(\.dismiss) private var dismiss
    @Environment(\.openURL) private var openURL
    @State private var access: CameraAccess = .checking
    @State private var torchOn = false
    @State private var typedCode = ""

    var body: some View {
        ZStack {
            Color.black.ignoresSafeArea()
            switch access {
            case .checking:
                ProgressView()
                    .tint(.white)
            case .granted:
                QRCameraView(torchOn: torchOn, onCode: onCode)
                    .ignoresSafeArea()
                viewfinder
            case .denied:
                deniedMessage
            case .unavailable:
                noCamera
            }
        }
        .overlay(alignment: .top) { topBar }
        .task { await checkAccess() }
    }

    private var topBar: some View {
        HStack {
            Button {
                dismiss()
            } label: {
                Image(systemName: "xmark")
                    .font(.title3.bold())
                    .padding(12)
                    .background(.ultraThinMaterial, in: Circle())
            }
            .accessibilityLabel("common.close")
            Spacer()
            if access == .granted {
                Button {
                    torchOn.toggle()
                } label: {
                    Image(systemName: torchOn ? "flashlight.on.fill" : "flashlight.off.fill")
                        .font(.title3)
                        .padding(12)
                        .background(.ultraThinMaterial, in: Circle())
                }
                .accessibilityLabel(torchOn ? Text("scanner.torchOff") : Text("scanner.torchOn"))
            }
        }
        .foregroundStyle(.white)
        .padding()
    }

    private var viewfinder: some View {
        VStack(spacing: 24) {
            Spacer()
            RoundedRectangle(cornerRadius: 20)
                .stroke(.white, lineWidth: 3)
                .frame(width: 240, height: 240)
                .accessibilityHidden(true)
            Text("scanner.hint")
                .font(.callout)
                .foregroundStyle(.white)
                .padding(.horizontal, 16)
                .padding(.vertical, 8)
                .background(.black.opacity(0.5), in: Capsule())
            Spacer()
        }
    }

    private var deniedMessage: some View {
        VStack(spacing: 16) {
            Image(systemName: "camera.fill")
                .font(.largeTitle)
                .accessibilityHidden(true)
            Text("scanner.denied.title")
                .font(.headline)
            Text("scanner.denied.message")
                .multilineTextAlignment(.center)
            Button("scanner.openSettings") {
                if let url = URL(string: UIApplication.openSettingsURLString) {
                    openURL(url)
                }
            }
            .buttonStyle(.borderedProminent)
        }
        .foregroundStyle(.white)
        .padding(32)
    }

    /// No camera (the simulator): the label's text can be pasted instead.
    private var noCamera: some View {
        VStack(spacing: 16) {
            Image(systemName: "camera.metering.unknown")
                .font(.largeTitle)
                .accessibilityHidden(true)
            Text("scanner.unavailable.title")
                .font(.headline)
            Text("scanner.unavailable.message")
                .multilineTextAlignment(.center)
            TextField("scanner.typedCode", text: $typedCode)
                .textInputAutocapitalization(.never)
                .autocorrectionDisabled()
                .textFieldStyle(.roundedBorder)
                .foregroundStyle(.primary)
            Button("scanner.useCode") {
                if let code = nonBlank(typedCode) {
                    onCode(code)
                }
            }
            .buttonStyle(.borderedProminent)
            .disabled(nonBlank(typedCode) == nil)
        }
        .foregroundStyle(.white)
        .padding(32)
    }

    private func checkAccess() async {
        guard AVCaptureDevice.default(for: .video) != nil else {
            access = .unavailable
            return
        }
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            access = .granted
        case .notDetermined:
            let granted = await AVCaptureDevice.requestAccess(for: .video)
            access = granted ? .granted : .denied
        default:
            access = .denied
        }
    }
}

/// The camera preview reading QR codes.
@MainActor
private struct QRCameraView: UIViewControllerRepresentable {
    let torchOn: Bool
    let onCode: (String) -> Void

    func makeUIViewController(context: Context) -> QRScannerController {
        let controller = QRScannerController()
        controller.onCode = onCode
        return controller
    }

    func updateUIViewController(_ controller: QRScannerController, context: Context) {
        controller.onCode = onCode
        controller.setTorch(torchOn)
    }
}

/// AVCaptureSession with a metadata output for `.qr`; stops after the first code.
final class QRScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
    var onCode: ((String) -> Void)?

    private let session = AVCaptureSession()
    /// Starting and stopping a session blocks: never on the main thread.
    private let sessionQueue = DispatchQueue(label: "app.patrol.scanner.session")
    private var previewLayer: AVCaptureVideoPreviewLayer?
    private var device: AVCaptureDevice?
    private var delivered = false

    override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .black
        guard configureSession() else { return }
        let preview = AVCaptureVideoPreviewLayer(session: session)
        preview.videoGravity = .resizeAspectFill
        view.layer.addSublayer(preview)
        previewLayer = preview
    }

    override func viewDidLayoutSubviews() {
        super.viewDidLayoutSubviews()
        previewLayer?.frame = view.bounds
    }

    override func viewWillAppear(_ animated: Bool) {
        super.viewWillAppear(animated)
        delivered = false
        let session = self.session
        sessionQueue.async {
            if !session.isRunning {
                session.startRunning()
            }
        }
    }

    override func viewWillDisappear(_ animated: Bool) {
        super.viewWillDisappear(animated)
        setTorch(false)
        let session = self.session
        sessionQueue.async {
            if session.isRunning {
                session.stopRunning()
            }
        }
    }

    func setTorch(_ on: Bool) {
        guard let device = device, device.hasTorch else { return }
        let mode: AVCaptureDevice.TorchMode = on ? .on : .off
        guard device.torchMode != mode, (try? device.lockForConfiguration()) != nil else { return }
        device.torchMode = mode
        device.unlockForConfiguration()
    }

    private func configureSession() -> Bool {
        guard let camera = AVCaptureDevice.default(for: .video),
              let input = try? AVCaptureDeviceInput(device: camera)
        else {
            return false
        }
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        guard session.canAddInput(input) else { return false }
        session.addInput(input)
        let output = AVCaptureMetadataOutput()
        guard session.canAddOutput(output) else { return false }
        session.addOutput(output)
        output.setMetadataObjectsDelegate(self, queue: .main)
        if output.availableMetadataObjectTypes.contains(.qr) {
            output.metadataObjectTypes = [.qr]
        }
        device = camera
        zoomForCloseFocus(camera)
        return true
    }

    /// Recent Pro iPhones cannot focus the wide camera nearer than about 20 cm, so a small label
    /// held close stays blurred: zoom in until a 20 mm code across 40% of the frame is at least
    /// that far away (Apple's barcode-scanning sample does the same).
    private func zoomForCloseFocus(_ camera: AVCaptureDevice) {
        let minimumFocusDistance = Float(camera.minimumFocusDistance) // millimetres, -1 if unknown
        guard minimumFocusDistance > 0 else { return }
        let halfFieldOfView = camera.activeFormat.videoFieldOfView / 2 * Float.pi / 180
        let codeDistance = (20 / 0.4) / tanf(halfFieldOfView)
        guard codeDistance > 0, codeDistance < minimumFocusDistance else { return }
        let zoom = min(CGFloat(minimumFocusDistance / codeDistance), camera.activeFormat.videoMaxZoomFactor)
        guard (try? camera.lockForConfiguration()) != nil else { return }
        camera.videoZoomFactor = zoom
        camera.unlockForConfiguration()
    }

    nonisolated func metadataOutput(
        _ output: AVCaptureMetadataOutput,
        didOutput metadataObjects: [AVMetadataObject],
        from connection: AVCaptureConnection
    ) {
        let code = metadataObjects
            .compactMap { object in object as? AVMetadataMachineReadableCodeObject }
            .first { object in object.type == .qr }?
            .stringValue
        guard let code = code, !code.isEmpty else { return }
        Task { @MainActor [weak self] in
            self?.deliver(code)
        }
    }

    private func deliver(_ code: String) {
        guard !delivered else { return }
        delivered = true
        UINotificationFeedbackGenerator().notificationOccurred(.success)
        let session = self.session
        sessionQueue.async {
            session.stopRunning()
        }
        onCode?(code)
    }
}
