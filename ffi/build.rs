//! Gives the shared library its soname: `libsdbus_cookie.so.<major>`, so programs linked
//! against it keep loading it across compatible updates (scripts/install-ffi installs the
//! file as `libsdbus_cookie.so.<major>.<minor>.<patch>` with the usual symlinks).
fn main() {
    let major =
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets CARGO_PKG_VERSION_MAJOR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsdbus_cookie.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
