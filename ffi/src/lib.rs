//! C ABI for sdbus-cookie: libsdbus_cookie.a/.so, header and pkg-config file
//!
//! Work in progress: see the open issue for this crate.
