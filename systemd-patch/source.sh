# Shared by systemd-patch/verify and systemd-patch/build-pid1 (sourced, not run): the
# packages systemd 252's build needs, Debian's source, our patches applied, and the meson
# options every build of it here uses. Both scripts build out of the same unpacked tree
# (build/systemd-252/src) into their own meson directories.
#
# The caller defines say() and die() and sets `repo` (the repository root, also the cwd)
# before sourcing. Then, in this order: sp_packages, sp_source, sp_patch. Afterwards
# $src is the patched tree, $source_version its Debian version, ${patches[@]} what was
# applied, $stock_version the host's libsystemd0; "${sp_meson_options[@]}" holds the common
# meson options (every optional feature off; the caller adds -Dtests=...).
#
# env: PATCH_DIR  directory of patches to apply (default systemd-patch/252)

patch_dir=$(cd "${PATCH_DIR:-systemd-patch/252}" && pwd)
work=$repo/build/systemd-252
download=$work/download
src=$work/src
apt_sources=/etc/apt/sources.list.d/sdbus-cookie-deb-src.sources

# The build runs with the distribution's tools first on PATH, so that meson's python3 is
# /usr/bin/python3 with python3-jinja2, whatever else is installed (pyenv, /usr/local).
sys_path=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
# Python scripts run from the source tree must not leave __pycache__ in it.
export PYTHONDONTWRITEBYTECODE=1

# 1. The packages (and deb-src, for apt-get source).
sp_packages() {

    # What the libsystemd and test-bus-* build with every optional feature off needs, and what
    # this script uses. Keep in sync with scripts/install-deps.
    deps=(
        dpkg-dev patch git                       # apt-get source (dpkg-source), applying the patch
        meson ninja-build gperf pkg-config       # systemd's build system
        gcc g++                                  # C, and C++ for test-bus-vtable-cc
        libcap-dev libmount-dev python3-jinja2   # required by systemd 252's meson.build
        dbus-daemon                              # the private bus for the tests
    )
    missing=()
    for p in "${deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
    done
    # The stock library (the control) with its headers. Pinned to the installed libsystemd0, so
    # that installing the headers never upgrades systemd itself on the host.
    if ! dpkg-query -W -f='${Status}' libsystemd-dev 2>/dev/null | grep 'install ok installed' >/dev/null; then
        missing+=("libsystemd-dev=$(dpkg-query -W -f='${Version}' libsystemd0)")
    fi

    enable_deb_src() {
        [[ -f /etc/apt/sources.list.d/debian.sources ]] ||
            die "no /etc/apt/sources.list.d/debian.sources to copy the deb-src entries from"
        say "enabling deb-src in $apt_sources"
        # Each stanza of debian.sources again, as deb-src: same URIs, Suites, Components, Signed-By.
        awk '
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { if (n) print ""; n = 0; next }
            /^Types:/ { print "Types: deb-src"; n++; next }
            /^(URIs|Suites|Components|Signed-By):/ { print; n++ }
        ' /etc/apt/sources.list.d/debian.sources > "$apt_sources.tmp"
        grep -q '^Types: deb-src' "$apt_sources.tmp" || die "no stanza in debian.sources"
        mv "$apt_sources.tmp" "$apt_sources"
    }

    apt_updated=0
    if ! apt-cache showsrc systemd 2>/dev/null | grep '^Package: systemd' >/dev/null; then
        enable_deb_src
        apt-get update -qq
        apt_updated=1
        apt-cache showsrc systemd 2>/dev/null | grep '^Package: systemd' >/dev/null ||
            die "deb-src enabled in $apt_sources, but apt still knows no source package systemd"
    fi
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        ((apt_updated)) || apt-get update -qq
        if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
            # The installed libsystemd0's version is no longer in the archive: take the candidate
            # (this upgrades libsystemd0, and the control then tests that version).
            say "retrying without version pins"
            apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}" >/dev/null
        fi
    fi
    stock_version=$(dpkg-query -W -f='${Version}' libsystemd0)

}

# 2. The pristine source in $src.
sp_source() {

    mkdir -p "$download"
    dsc=$(ls "$download"/systemd_252*.dsc 2>/dev/null | sort -V | tail -n1 || true)
    if [[ -z $dsc ]]; then
        say "apt-get source systemd"
        # Into a fresh directory first, so an interrupted download never looks complete.
        rm -rf "$download.part" && mkdir -p "$download.part"
        (cd "$download.part" && apt-get source --download-only -qq systemd 2>&1 |
            grep -v '^W: Download is performed unsandboxed' || true)
        ls "$download.part"/systemd_252*.dsc >/dev/null 2>&1 ||
            die "apt-get source systemd gave no systemd_252*.dsc (is this Debian bookworm?)"
        rm -rf "$download" && mv "$download.part" "$download"
        dsc=$(ls "$download"/systemd_252*.dsc | sort -V | tail -n1)
    fi
    source_version=$(sed -n 's/^Version: //p' "$dsc")

    # The unpacked tree is a git repository of the pristine source (made right after dpkg-source
    # -x), so that "patched or modified" is exact and restoring it only touches what changed,
    # which keeps the next ninja run incremental. The stamp names the .dsc it came from.
    stamp=$work/src.unpacked
    git_src() { git -C "$src" -c user.name=verify -c user.email=verify@localhost "$@"; }
    unpack() {
        say "unpacking $(basename "$dsc") into $src"
        rm -rf "$src" "$stamp"
        dpkg-source --no-check --no-copy -x "$dsc" "$src" >/dev/null
        git_src init -q
        git_src add -A --force  # also what systemd's .gitignore lists: all of it is source here
        git_src commit -q --no-verify -m "pristine $(basename "$dsc")"
        echo "$(basename "$dsc")" > "$stamp"
    }
    if [[ ! -f $stamp || $(cat "$stamp") != "$(basename "$dsc")" || ! -d $src/.git ]]; then
        unpack
    elif ! dirty=$(git_src status --porcelain --ignored 2>/dev/null); then
        say "the unpacked tree is not usable; extracting again"
        unpack
    elif [[ -n $dirty ]]; then
        say "the unpacked tree is patched or modified ($(wc -l <<<"$dirty") paths); restoring it to pristine"
        git_src reset -q --hard
        git_src clean -q -fdx
    else
        say "reusing the pristine tree in $src"
    fi

}

# 3. Our patches on top.
sp_patch() {
    local p name out
    patches=("$patch_dir"/*.patch)
    [[ -f ${patches[0]} ]] || die "no *.patch in $patch_dir"
    for p in "${patches[@]}"; do
        name=${p#"$repo"/}
        # No fuzz: a context that moved is fine (offset), one that changed is not.
        if ! out=$(patch -d "$src" -p1 --dry-run --batch --fuzz=0 < "$p" 2>&1); then
            printf '%s\n' "$out" >&2
            die "$name does not apply to systemd $source_version: the FAILED hunk and its file are named above"
        fi
        patch -d "$src" -p1 --batch --fuzz=0 --no-backup-if-mismatch --quiet < "$p" ||
            die "$name: patch failed after a clean dry run"
        say "applied $name to systemd $source_version"
    done

}

# Every optional feature off: the smallest build that has sd-bus, PID 1 and the tests.
# Call after sp_source (uses $source_version).
sp_set_meson_options() {
    sp_meson_options=(
        -Dmode=release -Dslow-tests=false -Dfuzz-tests=false -Dinstall-tests=false
        -Dversion-tag="$source_version+sdbus-cookie"
        -Dstatic-libsystemd=false -Dstatic-libudev=false
        -Dman=false -Dhtml=false -Dtranslations=false
        -Drepart=false -Dsysupdate=false -Dhomed=false -Dremote=false -Dimportd=false
        -Dnss-mymachines=false -Dnss-resolve=false
        -Ddns-over-tls=false -Dseccomp=false -Dselinux=false -Dapparmor=false -Dpolkit=false
        -Dacl=false -Daudit=false -Dblkid=false -Dfdisk=false -Dkmod=false -Dpam=false
        -Dpwquality=false -Dmicrohttpd=false -Dlibcryptsetup=false -Dlibcryptsetup-plugins=false
        -Dlibcurl=false -Didn=false -Dlibidn2=false -Dlibidn=false -Dlibiptc=false
        -Dqrencode=false -Dgcrypt=false -Dgnutls=false -Dopenssl=false -Dp11kit=false
        -Dlibfido2=false -Dtpm2=false -Delfutils=false -Dzlib=false -Dbzip2=false -Dxz=false
        -Dlz4=false -Dzstd=false -Dxkbcommon=false -Dpcre2=false -Dglib=false -Ddbus=false
        -Defi=false -Dgnu-efi=false -Dtpm=false -Dbpf-framework=false -Dima=false -Dsmack=false
        -Danalyze=false -Dkernel-install=false
    )
}
