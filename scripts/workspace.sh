# Sourced by the test scripts (scripts/test, mobile-test, console-test, schemathesis): the one
# way they build the workspace, so that a single build serves them all. patrol-mobile's own
# binding generator (its `bindgen` feature) is part of it: building it on its own, as
# `cargo run -p patrol-mobile --features bindgen` does, would compile uniffi, core and the
# bindings a second time with other features (about two minutes on two cores).
workspace=(--workspace --locked --features patrol-mobile/bindgen)
# Every target: libraries, binaries, tests, benchmarks.
workspace_build=("${workspace[@]}" --all-targets)
