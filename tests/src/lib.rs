//! End-to-end tests for the patrol companion live in `tests/`; this library holds what they share.
