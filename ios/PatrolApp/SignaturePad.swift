import SwiftUI
import UIKit

/// A drawn signature: its strokes in the pad's coordinates and the pad's size.
struct Signature: Equatable {
    var strokes: [[CGPoint]] = []
    var canvasSize: CGSize = .zero

    var isEmpty: Bool {
        strokes.allSatisfy { stroke in stroke.isEmpty }
    }
}

/// Sign with a finger: a SwiftUI Canvas fed by a drag gesture.
@MainActor
struct SignaturePad: View {
    @Binding var signature: Signature
    @State private var current: [CGPoint] = []

    var body: some View {
        GeometryReader { proxy in
            Canvas { context, _ in
                let path = SignatureShape.path(for: signature.strokes + [current])
                context.stroke(path, with: .color(.black), style: SignatureShape.ink)
            }
            .background(Color.white)
            .contentShape(Rectangle())
            .gesture(
                DragGesture(minimumDistance: 0, coordinateSpace: .local)
                    .onChanged { value in
                        current.append(value.location)
                    }
                    .onEnded { _ in
                        if !current.isEmpty {
                            signature.strokes.append(current)
                        }
                        signature.canvasSize = proxy.size
                        current = []
                    }
            )
            .overlay(alignment: .bottomLeading) {
                VStack(alignment: .leading, spacing: 4) {
                    if signature.isEmpty && current.isEmpty {
                        Text("signature.placeholder")
                            .font(.callout)
                            .foregroundStyle(Color.gray)
                    }
                    Rectangle()
                        .fill(Color.gray.opacity(0.5))
                        .frame(height: 1)
                }
                .padding(16)
                .allowsHitTesting(false)
            }
        }
        .clipShape(RoundedRectangle(cornerRadius: 12))
        .overlay(
            RoundedRectangle(cornerRadius: 12)
                .stroke(Color.secondary.opacity(0.6), lineWidth: 1)
        )
        .accessibilityElement()
        .accessibilityLabel("signature.pad")
        .accessibilityValue(signature.isEmpty ? Text("signature.empty") : Text("signature.signed"))
        .accessibilityHint(Text("signature.hint"))
    }
}

/// The strokes as one path, smoothed through the midpoints of the touch samples.
struct SignatureShape: Shape {
    var strokes: [[CGPoint]]

    static let ink = StrokeStyle(lineWidth: 3, lineCap: .round, lineJoin: .round)

    func path(in rect: CGRect) -> Path {
        Self.path(for: strokes)
    }

    static func path(for strokes: [[CGPoint]]) -> Path {
        var path = Path()
        for stroke in strokes {
            guard let first = stroke.first else { continue }
            if stroke.count == 1 {
                // A tap: a dot.
                path.addEllipse(in: CGRect(x: first.x - 1.5, y: first.y - 1.5, width: 3, height: 3))
                continue
            }
            path.move(to: first)
            var previous = first
            for point in stroke.dropFirst() {
                let middle = CGPoint(x: (previous.x + point.x) / 2, y: (previous.y + point.y) / 2)
                path.addQuadCurve(to: middle, control: previous)
                previous = point
            }
            path.addLine(to: previous)
        }
        return path
    }
}

/// The signature as a PNG (black ink on white), for the sign-off record.
enum SignatureRenderer {
    @MainActor
    static func png(_ signature: Signature, scale: CGFloat = 2) -> Data? {
        guard !signature.isEmpty, signature.canvasSize.width > 0, signature.canvasSize.height > 0 else {
            return nil
        }
        let drawing = SignatureShape(strokes: signature.strokes)
            .stroke(Color.black, style: SignatureShape.ink)
            .frame(width: signature.canvasSize.width, height: signature.canvasSize.height)
            .background(Color.white)
        let renderer = ImageRenderer(content: drawing)
        renderer.scale = scale
        return renderer.uiImage?.pngData()
    }
}
