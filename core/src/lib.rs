//! Patrol companion core: the rules that phones and server share.
#![forbid(unsafe_code)]
