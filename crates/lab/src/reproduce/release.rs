//! What differs between the releases `reproduce` knows: the only place the flow branches
//! on the release. Every entry was measured on that release as PID 1 of the sandbox, never
//! derived from its version number; the run checks the edge entries again as claims, so a
//! release that behaves otherwise fails the run instead of bending it.

/// One release's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    /// The upstream tag's number (`Manager.Version` of its PID 1).
    pub number: &'static str,
    /// What PID 1 does when a reply sd-bus sends by itself (the doctor's `Properties.Get`)
    /// is the message it cannot seal. Before that, both releases stay on the bus after the
    /// runtime's `StartTransientUnit` past the edge (its error reply cannot be sealed and
    /// `bus_maybe_reply_error()` only logs that).
    pub at_the_edge: AtTheEdge,
    /// How the sandbox's `/usr/lib/systemd/systemd` is made the booted binary before
    /// `daemon-reexec`.
    pub binary_at_reexec_path: BinaryAt,
}

/// What PID 1 does at the edge once sd-bus's own reply fails to seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtTheEdge {
    /// It stays on the bus and reads nothing more there: `io_callback()` returns the error
    /// to sd-event, which disables the connection's source (v219). Its name keeps its owner
    /// and callers without a deadline wait forever.
    StaysDeaf,
    /// It closes the connection (`io_callback()` disconnects on a processing error since
    /// systemd commit 5ae37ad833, v237): its name loses its owner.
    LeavesTheBus,
}

impl AtTheEdge {
    /// Whether `org.freedesktop.systemd1` has an owner after the doctor's probe.
    pub fn name_owned_after_probe(self) -> bool {
        self == AtTheEdge::StaysDeaf
    }

    /// In words, for the claims.
    pub fn describe(self) -> &'static str {
        match self {
            AtTheEdge::StaysDeaf => "stays on the bus, deaf",
            AtTheEdge::LeavesTheBus => "leaves the bus",
        }
    }
}

/// How the booted binary is put at `SYSTEMD_BINARY_PATH` in the sandbox's mount namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryAt {
    /// `mount --bind` of the binary (or, when it finds its libraries relative to itself,
    /// of its directory on `/usr/lib/systemd`). v241 keeps the mount: its mount units get
    /// no device dependency where device units are unsupported (`unit_add_node_link()`,
    /// src/core/unit.c).
    BindMount,
    /// A read-only overlay on `/usr/lib/systemd` whose top layer (on the sandbox's `/run`
    /// tmpfs) holds only `systemd`, a symlink to the binary: exec follows it, so PID 1
    /// re-executes that very file. A bind mount does not stay on v219: the mount unit it
    /// makes for any mount whose source is a device path gets `BindsTo=` that device
    /// (`unit_add_node_link()`, src/core/unit.c), the device unit is never active without
    /// udev, and PID 1 unmounts the bind at once (seen: `--version` through the path said
    /// 252 again within milliseconds). An overlay's source is `overlay`, not a device.
    OverlaySymlink,
}

/// The releases measured in the sandbox.
pub const RELEASES: &[Release] = &[
    Release {
        number: "219",
        at_the_edge: AtTheEdge::StaysDeaf,
        binary_at_reexec_path: BinaryAt::OverlaySymlink,
    },
    Release {
        number: "241",
        at_the_edge: AtTheEdge::LeavesTheBus,
        binary_at_reexec_path: BinaryAt::BindMount,
    },
];

/// The distributions' trees `systemd-patch/build-pid1` builds, with the upstream release
/// whose entry they follow. Measured in the sandbox like the upstream tags (the run checks
/// the entry's edge claims again): XCP-ng 8.3's 219-57.5 stays on the bus deaf and keeps an
/// overlay, as upstream 219 does; Debian 10's 241-7~deb10u8 leaves the bus and keeps a
/// bind mount, as upstream 241 does.
pub const TREES: &[(&str, &str)] = &[("xcp-ng-8.3", "219"), ("debian-10", "241")];

/// The upstream release a tree's name stands for, or the name itself.
pub fn upstream_of(release_or_tree: &str) -> &str {
    TREES
        .iter()
        .find(|(tree, _)| *tree == release_or_tree)
        .map_or(release_or_tree, |(_, number)| number)
}

/// The entry for a release number ("219") or a `Manager.Version` that starts with one.
pub fn find(version: &str) -> Option<&'static Release> {
    let number: String = version.chars().take_while(char::is_ascii_digit).collect();
    RELEASES.iter().find(|r| r.number == number)
}

/// The known numbers and trees, for an error message.
pub fn known() -> String {
    RELEASES
        .iter()
        .map(|r| r.number)
        .chain(TREES.iter().map(|(tree, _)| *tree))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_takes_the_leading_number_of_a_version_and_nothing_else() {
        assert_eq!(find("219").map(|r| r.number), Some("219"));
        assert_eq!(find("241").map(|r| r.number), Some("241"));
        assert_eq!(find("241-rc1").map(|r| r.number), Some("241"));
        assert_eq!(find("2419"), None);
        assert_eq!(find("252.38-1~deb12u1"), None);
        assert_eq!(find(""), None);
    }

    #[test]
    fn only_the_release_that_stays_deaf_keeps_its_name_after_the_probe() {
        assert!(AtTheEdge::StaysDeaf.name_owned_after_probe());
        assert!(!AtTheEdge::LeavesTheBus.name_owned_after_probe());
    }
}
