import PatrolKit
import SwiftUI
import UIKit

/// A row of kept photos with a camera button: the ids go into `photoIds`.
@MainActor
struct PhotoStrip: View {
    @Binding var photoIds: [String]
    var isRequired = false
    var isEditable = true

    @EnvironmentObject private var repository: PatrolRepository
    @State private var showCamera = false
    @State private var isSaving = false
    @State private var alert: AlertMessage?

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            ScrollView(.horizontal, showsIndicators: false) {
                HStack(spacing: 8) {
                    ForEach(photoIds, id: \.self) { photoId in
                        PhotoThumbnail(photoId: photoId)
                            .contextMenu {
                                if isEditable {
                                    Button("photo.remove", systemImage: "trash", role: .destructive) {
                                        photoIds.removeAll { kept in kept == photoId }
                                    }
                                }
                            }
                    }
                    if isEditable {
                        Button {
                            showCamera = true
                        } label: {
                            ZStack {
                                RoundedRectangle(cornerRadius: 8)
                                    .strokeBorder(style: StrokeStyle(lineWidth: 1.5, dash: [5]))
                                    .foregroundStyle(.secondary)
                                if isSaving {
                                    ProgressView()
                                } else {
                                    Image(systemName: "camera")
                                        .font(.title3)
                                }
                            }
                            .frame(width: 64, height: 64)
                        }
                        .buttonStyle(.borderless)
                        .disabled(isSaving)
                        .accessibilityLabel("photo.add")
                    }
                }
                .padding(.vertical, 2)
            }
            if isRequired && photoIds.isEmpty {
                Label("photo.required", systemImage: "exclamationmark.circle")
                    .font(.caption)
                    .foregroundStyle(.red)
            }
        }
        .fullScreenCover(isPresented: $showCamera) {
            CameraPicker { jpeg in keep(jpeg) }
                .ignoresSafeArea()
        }
        .errorAlert($alert)
    }

    private func keep(_ jpeg: Data) {
        isSaving = true
        Task {
            defer { isSaving = false }
            do {
                let photoId = try await repository.addPhoto(jpeg)
                photoIds.append(photoId)
            } catch {
                alert = AlertMessage(error)
            }
        }
    }
}

/// A kept photo's thumbnail; tap for the full picture.
@MainActor
struct PhotoThumbnail: View {
    let photoId: String
    var size: CGFloat = 64

    @EnvironmentObject private var repository: PatrolRepository
    @State private var image: UIImage?
    @State private var showFull = false

    var body: some View {
        ZStack {
            RoundedRectangle(cornerRadius: 8)
                .fill(Color(.secondarySystemFill))
            if let image = image {
                Image(uiImage: image)
                    .resizable()
                    .scaledToFill()
            } else {
                Image(systemName: "photo")
                    .foregroundStyle(.secondary)
            }
        }
        .frame(width: size, height: size)
        .clipShape(RoundedRectangle(cornerRadius: 8))
        .contentShape(Rectangle())
        .onTapGesture { showFull = true }
        .accessibilityElement()
        .accessibilityLabel("photo.thumbnail")
        .accessibilityAddTraits(.isButton)
        .task(id: photoId) {
            image = await PhotoLoader.image(photoId: photoId, thumbnail: true, repository: repository)
        }
        .sheet(isPresented: $showFull) {
            PhotoViewer(photoId: photoId)
        }
    }
}

/// One photo, full size.
@MainActor
struct PhotoViewer: View {
    let photoId: String

    @EnvironmentObject private var repository: PatrolRepository
    @Environment(\.dismiss) private var dismiss
    @State private var image: UIImage?
    @State private var failed = false

    var body: some View {
        NavigationStack {
            ZStack {
                Color.black.ignoresSafeArea()
                if let image = image {
                    Image(uiImage: image)
                        .resizable()
                        .scaledToFit()
                        .accessibilityLabel("photo.full")
                } else if failed {
                    Label("photo.missing", systemImage: "photo.badge.exclamationmark")
                        .foregroundStyle(.white)
                } else {
                    ProgressView()
                        .tint(.white)
                }
            }
            .toolbar {
                ToolbarItem(placement: .confirmationAction) {
                    Button("common.done") { dismiss() }
                }
            }
        }
        .task {
            image = await PhotoLoader.image(photoId: photoId, thumbnail: false, repository: repository)
            failed = image == nil
        }
    }
}

/// Reads a kept photo's file off the main thread.
enum PhotoLoader {
    @MainActor
    static func image(photoId: String, thumbnail: Bool, repository: PatrolRepository) async -> UIImage? {
        guard let url = try? await repository.photoURL(photoId: photoId, thumbnail: thumbnail) else {
            return nil
        }
        return await Task.detached(priority: .userInitiated) {
            UIImage(contentsOfFile: url.path)
        }.value
    }
}
