//! A throwaway real systemd + dbus-daemon in Linux namespaces, for tests and demos
//!
//! Work in progress: see the open issue for this crate.
