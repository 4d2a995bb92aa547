// swift-tools-version:5.9
// PatrolKit: the generated Swift bindings of patrol-mobile (copied into Sources/PatrolKit/Generated
// by ../build-xcframework.sh) and PatrolRepository, the async layer the app's screens use, over
// the PatrolMobileFFI XCFramework (the Rust static library for device and simulator).
import PackageDescription

let package = Package(
    name: "PatrolKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "PatrolKit", targets: ["PatrolKit"]),
    ],
    targets: [
        .binaryTarget(
            name: "PatrolMobileFFI",
            path: "../build/PatrolMobileFFI.xcframework"
        ),
        .target(
            name: "PatrolKit",
            dependencies: ["PatrolMobileFFI"],
            path: "Sources/PatrolKit",
            linkerSettings: [
                // The Rust library asks the system for random bytes (SecRandomCopyBytes).
                .linkedFramework("Security"),
            ]
        ),
    ]
)
