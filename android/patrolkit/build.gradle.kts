// The Kotlin layer over the Rust engine: the uniffi-generated bindings (generated into the build
// folder from the host library by the workspace's own uniffi-bindgen) and the repository layer
// the screens use. The Android .so files come from ../build-rust.sh (cargo-ndk).
import org.gradle.internal.os.OperatingSystem

plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

val workspace = rootDir.parentFile
val generated = layout.buildDirectory.dir("generated/uniffi/kotlin")
val hostLibrary = workspace.resolve(
    "target/debug/" + when {
        OperatingSystem.current().isMacOsX -> "libpatrol_mobile.dylib"
        OperatingSystem.current().isWindows -> "patrol_mobile.dll"
        else -> "libpatrol_mobile.so"
    },
)

val buildHostLibrary by tasks.registering(Exec::class) {
    description = "Builds patrol-mobile for this computer (for binding generation and unit tests)."
    workingDir = workspace
    commandLine("cargo", "build", "-p", "patrol-mobile", "--locked")
}

val generateBindings by tasks.registering(Exec::class) {
    description = "Generates the Kotlin bindings with the workspace's uniffi-bindgen (library mode)."
    dependsOn(buildHostLibrary)
    workingDir = workspace
    outputs.dir(generated)
    commandLine(
        "cargo", "run", "-q", "-p", "patrol-mobile", "--features", "bindgen", "--bin", "uniffi-bindgen", "--",
        "generate", "--library", hostLibrary.path, "--language", "kotlin", "--no-format",
        "--out-dir", generated.get().asFile.path,
    )
}

android {
    namespace = "app.patrol.kit"
    compileSdk = 35

    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
    }

    sourceSets["main"].kotlin.srcDir(generated)
    // build-rust.sh puts libpatrol_mobile.so for each ABI here.
    sourceSets["main"].jniLibs.srcDir("src/main/jniLibs")

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    testOptions {
        unitTests.all {
            // The JVM tests load the host library and start the real server (built by cargo).
            it.systemProperty("jna.library.path", workspace.resolve("target/debug").path)
            it.environment("PATROL_SERVER_BIN", workspace.resolve("target/debug/patrol-server").path)
            it.dependsOn(buildHostLibrary)
        }
    }
}

kotlin {
    jvmToolchain(17)
}

tasks.matching { it.name.startsWith("compile") && it.name.contains("Kotlin") }.configureEach {
    dependsOn(generateBindings)
}

dependencies {
    // JNA as an Android AAR (it carries libjnidispatch.so for each ABI).
    implementation("${libs.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)

    testImplementation(libs.jna)
    testImplementation(libs.junit)
    testImplementation(libs.kotlin.test.junit)
    testImplementation(libs.gson)
}
