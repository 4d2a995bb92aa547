#!/usr/bin/env bash
# Builds libpatrol_mobile.so for the Android ABIs into patrolkit/src/main/jniLibs, with cargo-ndk.
# Needs the Android NDK (ANDROID_NDK_HOME, or Android Studio's SDK Manager → NDK) and, the first
# time, `cargo install cargo-ndk` and the rustup targets below (this script adds the targets).
#
#   android/build-rust.sh            # release build, all four ABIs
#   android/build-rust.sh --debug    # debug build (faster to build, slower to run)
set -euo pipefail
cd "$(dirname "$0")/.."

profile=--release
[ "${1:-}" = "--debug" ] && profile=

if ! command -v cargo-ndk >/dev/null 2>&1; then
    echo "cargo-ndk is missing: cargo install cargo-ndk" >&2
    exit 1
fi
if [ -z "${ANDROID_NDK_HOME:-}" ] && [ -z "${ANDROID_NDK_ROOT:-}" ]; then
    echo "set ANDROID_NDK_HOME to the NDK folder (Android Studio: SDK Manager → SDK Tools → NDK)" >&2
    exit 1
fi

targets=(aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android)
echo "==> rustup target add ${targets[*]}"
rustup target add "${targets[@]}"

# minSdk of the app (26): the NDK's API level for the C side of the build.
echo "==> cargo ndk build -p patrol-mobile ${profile:---debug}"
cargo ndk \
    -t arm64-v8a -t armeabi-v7a -t x86_64 -t x86 \
    --platform 26 \
    -o android/patrolkit/src/main/jniLibs \
    build -p patrol-mobile --locked $profile

find android/patrolkit/src/main/jniLibs -name 'libpatrol_mobile.so' -exec ls -l {} \;
echo "==> done: open android/ in Android Studio, or ./gradlew :app:assembleDebug"
