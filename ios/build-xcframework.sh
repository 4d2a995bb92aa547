#!/usr/bin/env bash
# Builds the Rust library of patrol-mobile for iOS devices and simulators, generates its Swift
# bindings and packs everything for the PatrolKit Swift package:
#
#   ios/build/PatrolMobileFFI.xcframework                 the static library + C header and module map
#   ios/PatrolKit/Sources/PatrolKit/Generated/PatrolKit.swift   the generated Swift bindings
#
# Both are build products (git-ignored). Runs on a Mac with Xcode and rustup:
#
#   ios/build-xcframework.sh            release build
#   ios/build-xcframework.sh --debug    debug build (faster to build, slower to run)
#
# Then: cd ios && xcodegen && open PatrolCompanion.xcodeproj
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD

say() { printf '\n==> %s\n' "$*"; }

profile=release
cargo_profile=(--release)
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    cargo_profile=()
fi

for tool in cargo rustup xcodebuild lipo; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool is missing: this script needs macOS with Xcode and rustup" >&2
        exit 1
    fi
done

# The PatrolKit package supports iOS 16; build the Rust code for the same minimum.
export IPHONEOS_DEPLOYMENT_TARGET=16.0

device=aarch64-apple-ios
simulators=(aarch64-apple-ios-sim x86_64-apple-ios)

say "rustup target add $device ${simulators[*]}"
rustup target add "$device" "${simulators[@]}"

for target in "$device" "${simulators[@]}"; do
    say "cargo build -p patrol-mobile --$profile --target $target"
    cargo build -p patrol-mobile --locked ${cargo_profile[@]+"${cargo_profile[@]}"} --target "$target"
done

build=$root/ios/build
staging=$build/staging
rm -rf "$staging" "$build/PatrolMobileFFI.xcframework"
mkdir -p "$staging/simulator" "$staging/headers" "$staging/bindings"

say "lipo: one simulator library for arm64 and x86_64"
lipo -create \
    "target/aarch64-apple-ios-sim/$profile/libpatrol_mobile.a" \
    "target/x86_64-apple-ios/$profile/libpatrol_mobile.a" \
    -output "$staging/simulator/libpatrol_mobile.a"
lipo -info "$staging/simulator/libpatrol_mobile.a"

# The bindings come from the library's own metadata (library mode). A host build is what the
# generator reads most reliably, whatever the uniffi version; the API is the same on every target.
say "cargo build -p patrol-mobile --$profile (host library for the binding generator)"
cargo build -p patrol-mobile --locked ${cargo_profile[@]+"${cargo_profile[@]}"}
host_lib=target/$profile/libpatrol_mobile.dylib
if [ ! -f "$host_lib" ]; then
    echo "no $host_lib: is this a Mac?" >&2
    exit 1
fi

say "uniffi-bindgen generate --language swift (settings: mobile-bindings/uniffi.toml)"
cargo run -q -p patrol-mobile --features bindgen --bin uniffi-bindgen --locked -- \
    generate --library "$host_lib" --language swift --no-format --out-dir "$staging/bindings"
for file in PatrolKit.swift PatrolMobileFFI.h PatrolMobileFFI.modulemap; do
    if [ ! -s "$staging/bindings/$file" ]; then
        echo "the generator wrote no $file" >&2
        exit 1
    fi
done

generated=$root/ios/PatrolKit/Sources/PatrolKit/Generated
say "copying PatrolKit.swift into ${generated#"$root"/}"
mkdir -p "$generated"
cp "$staging/bindings/PatrolKit.swift" "$generated/PatrolKit.swift"

say "headers: PatrolMobileFFI.h and module.modulemap"
cp "$staging/bindings/PatrolMobileFFI.h" "$staging/headers/PatrolMobileFFI.h"
cp "$staging/bindings/PatrolMobileFFI.modulemap" "$staging/headers/module.modulemap"

say "xcodebuild -create-xcframework → ios/build/PatrolMobileFFI.xcframework"
xcodebuild -create-xcframework \
    -library "target/$device/$profile/libpatrol_mobile.a" -headers "$staging/headers" \
    -library "$staging/simulator/libpatrol_mobile.a" -headers "$staging/headers" \
    -output "$build/PatrolMobileFFI.xcframework"

rm -rf "$staging"
say "done"
echo "  $build/PatrolMobileFFI.xcframework"
echo "  $generated/PatrolKit.swift"
echo "next: cd ios && xcodegen && open PatrolCompanion.xcodeproj"
