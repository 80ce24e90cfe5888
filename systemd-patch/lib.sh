# shellcheck shell=bash
# Sourced by systemd-patch/verify and systemd-patch/build-pid1 (not run): where each systemd
# release's source comes from, how each is configured and built here, and the cache of those
# builds.
#
# Releases: 219 232 237 239 241 (the unmodified upstream tags, which have the cookie
# overflow) and 252 (Debian bookworm's source package, fixed upstream since v242).
# Distribution trees that still ship the overflow, by name: debian-10 (241-7~deb10u8),
# debian-9 (232-25+deb9u12), xcp-ng-8.3 (219-57.5). Each is the distribution's packaging
# tree with its own patches applied the way its maintainer's tools apply them (quilt for
# debian/patches/series, rpmbuild -bp for a spec's PatchNNNN lines), and for `patched` our
# fix for its release added to that series as a maintainer would add it.
#
# Every build is one (release, variant) pair, variant `stock`, `patched` or `stateful`, made
# from one unpacked tree with the same flags:
#   stock    the release + its build-compat/*.patch (today's toolchain only); a
#            distribution tree: its own patch series, then its release's
#            build-compat/*.patch (sp_compat_patches: a file of the tree's own
#            build-compat/ replaces the release's of the same name)
#   patched  the release + its *.patch (the fix, applied first, to the pristine tree) +
#            build-compat/*.patch, linked against libsdbus_cookie.a (install-ffi --static-only);
#            a distribution tree takes the fix through its own series (the last entry)
#   stateful (only releases with a stateful/ folder: 241 252) as patched, with
#            stateful/*.patch applied after the fix: each sd_bus owns an allocator whose
#            pending set mirrors reply_callbacks (opt-in; the fix alone is the default)
# Builds live in a cache outside the clone, $SDBUS_COOKIE_CACHE (default
# ~/.cache/sdbus-cookie), one directory per (release, variant, key): the key hashes
# everything that goes into the build (the source's checksum, the patches, the options, the
# tool versions, the build steps, and for `patched` and `stateful` the allocator's sources and
# the Rust toolchain).
# A complete build has a stamp; a directory without one is rebuilt from scratch. Older keys
# of the same (release, variant) are removed once a new one is complete.
#
# The caller defines say() and die() and sets `repo` (the repository root, also the cwd).
#
# env: SYSTEMD_SOURCES     folder of systemd-<release>.tar.xz (checked against SHA256SUMS)
#      DISTRO_SOURCES      folder of the distribution trees' tarballs (checked the same way)
#      SDBUS_COOKIE_CACHE  the cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/sdbus-cookie)

sp_all_releases=(219 232 237 239 241 252)
sp_all_distros=(debian-10 debian-9 xcp-ng-8.3)

# A distribution tree: its tarball (`git archive` of the packaging repository, pinned in
# SHA256SUMS), the upstream release it is built on, how its patches are applied, and for
# rpm the upstream tarball its spec's Source0 is.
declare -A sp_distro_tarball=(
    [debian-10]=debian-10-buster-systemd_241-7~deb10u8.tar.xz
    [debian-9]=debian-9-stretch-systemd_232-25+deb9u12.tar.xz
    [xcp-ng-8.3]=xcp-ng-8.3-systemd-219-57.5-packaging.tar.xz
)
declare -A sp_distro_release=([debian-10]=241 [debian-9]=232 [xcp-ng-8.3]=219)
declare -A sp_distro_format=([debian-10]=quilt [debian-9]=quilt [xcp-ng-8.3]=rpm)
# The name our fix takes in the distribution's tree: a debian/patches/ file (one `series`
# line), or a spec's SOURCES file with its PatchNNNN line (a number far above the
# distribution's own, so %autosetup applies it last and a new distribution patch does not
# take its number).
sp_fix_file_name=sdbus-cookie-keep-message-cookies-within-32-bit.patch
sp_rpm_patch_number=9000
sp_cache=${SDBUS_COOKIE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sdbus-cookie}

# The upstream tags, for a download when no tarball is at hand (the tarballs in
# SHA256SUMS are `git archive --prefix=systemd-<release>/` of these commits, xz-compressed).
declare -A sp_tag_commit=(
    [219]=a88abde72169ddc2df77df3fa5bed30725022253
    [232]=a1e2ef7ec912902d8142e7cb5830cbfb47dba86c
    [237]=46659f7deb962f55c728e70597e37c2a3ab6326d
    [239]=de7436b02badc82200dc127ff190b8155769b8e7
    [241]=e62a7fea757f259eb330da5b6d3ab4ede46400a2
)

# The build runs with the distribution's tools first on PATH, so that meson's python3 is
# /usr/bin/python3 with python3-jinja2, whatever else is installed (pyenv, /usr/local).
sys_path=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
# Python scripts run from the source tree must not leave __pycache__ in it.
export PYTHONDONTWRITEBYTECODE=1

sp_check_release() {
    local r
    for r in "${sp_all_releases[@]}" "${sp_all_distros[@]}"; do
        [[ $1 == "$r" ]] && return 0
    done
    die "unknown release or distribution tree '$1' (known: ${sp_all_releases[*]} ${sp_all_distros[*]})"
}

sp_is_distro() { [[ -n ${sp_distro_tarball[$1]:-} ]]; }

# The upstream release a name is built on: itself, or a distribution tree's release.
sp_release_of() {
    if sp_is_distro "$1"; then echo "${sp_distro_release[$1]}"; else echo "$1"; fi
}

# Our fix for a release (the one patch in systemd-patch/<release>/).
sp_fix_patch() {
    local rel fix
    rel=$(sp_release_of "$1")
    # shellcheck disable=SC2012,SC2154 # our own patch names; $repo is set by the sourcing script
    fix=$(ls "$repo/systemd-patch/$rel"/*.patch 2>/dev/null | sort | head -n1 || true)
    [[ -n $fix ]] || die "systemd-patch/$rel has no fix patch"
    echo "$fix"
}

# The build-environment fixes a tree takes, in order of their names: its release's
# build-compat/*.patch, where a distribution tree's own build-compat/ holds the ones its
# series changed the context of: a file there replaces the release's of the same name.
sp_compat_patches() {
    local own=$repo/systemd-patch/$1/build-compat rel p
    rel=$(sp_release_of "$1")
    {
        for p in "$repo/systemd-patch/$rel"/build-compat/*.patch; do
            [[ -f $p ]] || continue
            if [[ $rel != "$1" && -f $own/$(basename "$p") ]]; then echo "$own/$(basename "$p")"; else echo "$p"; fi
        done
        if [[ $rel != "$1" ]]; then
            for p in "$own"/*.patch; do
                [[ -f $p && ! -f $repo/systemd-patch/$rel/build-compat/$(basename "$p") ]] && echo "$p"
            done
        fi
    } | awk -F/ '{ print $NF "\t" $0 }' | sort | cut -f2
}

# The variants a release is built in: stock and patched, and stateful where the release has
# that opt-in patch.
sp_variants() {
    if [[ -d $repo/systemd-patch/$1/stateful ]]; then
        echo stock patched stateful
    else
        echo stock patched
    fi
}

# Which build system and which kind of source each release has (a distribution tree is
# built as its release is; its source is its own, sp_fetch_source).
sp_kind() {
    case $(sp_release_of "$1") in
        219|232) echo autotools ;;
        252) echo debian ;;
        *) echo meson ;;
    esac
}

# ------------------------------------------------------------------------------ packages

# What every build here needs (and what verify itself uses). Keep in sync with
# scripts/install-deps. libsystemd-dev is the host's own (for 252's stock control it is not
# used: the control is built from the same tree), pinned so that nothing upgrades systemd.
# sp_packages install|check: installs what is missing, or (check) only names it and fails,
# for callers that must not install (tests: scripts/install-deps installs).
sp_packages() {
    local mode=$1
    local deps=(
        dpkg-dev patch git xz-utils              # sources: apt-get source, git archive, patches
        meson ninja-build gperf pkg-config m4 rsync  # meson releases
        autoconf automake libtool intltool gettext   # 219 (autotools)
        gcc g++                                  # C, and C++ for test-bus-vtable-cc
        libcap-dev libmount-dev python3-jinja2   # required by the releases' build files
        dbus-daemon                              # the private bus for the tests
        quilt rpm                                # distribution trees: debian/patches, a spec's patches
    )
    local missing=() p
    for p in "${deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
    done
    if ((${#missing[@]})) && [[ $mode == check ]]; then
        die "missing packages: ${missing[*]} (scripts/install-deps installs them)"
    fi
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# `apt-get source systemd` (252 only) with a private apt state: the deb-src stanzas of the
# host's debian.sources (same URIs, Suites, Components, Signed-By) in a temporary folder, so
# the host's apt configuration and package lists stay as they were.
sp_apt_source_systemd() {
    local into=$1 tmp opts rc=0
    [[ -f /etc/apt/sources.list.d/debian.sources ]] ||
        die "no /etc/apt/sources.list.d/debian.sources to take the deb-src entries from"
    tmp=$(mktemp -d)
    mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial"
    awk '
        /^[[:space:]]*#/ { next }
        /^[[:space:]]*$/ { if (n) print ""; n = 0; next }
        /^Types:/ { print "Types: deb-src"; n++; next }
        /^(URIs|Suites|Components|Signed-By):/ { print; n++ }
    ' /etc/apt/sources.list.d/debian.sources > "$tmp/parts/deb-src.sources"
    opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$tmp/parts"
          -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache")
    apt-get "${opts[@]}" update -qq > "$tmp/update.log" 2>&1 &&
        (cd "$into" && apt-get "${opts[@]}" source --download-only -qq systemd) > "$tmp/source.log" 2>&1 || rc=$?
    ((rc == 0)) || { cat "$tmp"/*.log >&2; rm -rf "$tmp"; die "apt-get source systemd failed"; }
    rm -rf "$tmp"
}

# ------------------------------------------------------------------------------ sources

# sp_take_source FILE WANT STEP: FILE (from SYSTEMD_SOURCES or DISTRO_SOURCES) copied into
# the cache's sources, so that later runs without that folder find it there; checked
# against WANT first, so that a bad file never replaces a good copy.
sp_take_source() {
    local file=$1 want=$2 step=$3 dir=$sp_cache/sources have
    have=$(sha256sum "$file" | cut -d' ' -f1)
    [[ $have == "$want" ]] || die "$file: sha256 $have, want $want (systemd-patch/SHA256SUMS); step: $step"
    if ! cmp -s "$file" "$dir/${file##*/}"; then
        mkdir -p "$dir"
        cp "$file" "$dir/${file##*/}.part" && mv "$dir/${file##*/}.part" "$dir/${file##*/}"
    fi
}

# Sets sp_source (a file: the release tarball, 252's .dsc, or a distribution tree's tarball)
# and sp_source_sum (its sha256; for an rpm tree also its Source0's, with sp_source0 that
# upstream tarball).
sp_fetch_source() {
    local rel=$1 name want have dir
    if sp_is_distro "$rel"; then
        name=${sp_distro_tarball[$rel]}
        want=$(awk -v f="$name" '$2 == f { print $1 }' "$repo/systemd-patch/SHA256SUMS")
        [[ -n $want ]] || die "systemd-patch/SHA256SUMS has no checksum for $name"
        dir=$sp_cache/sources
        if [[ -n ${DISTRO_SOURCES:-} && -f $DISTRO_SOURCES/$name ]]; then
            sp_take_source "$DISTRO_SOURCES/$name" "$want" "fetching the $rel tree"
        elif [[ ! -f $dir/$name ]]; then
            die "$rel: no $name in DISTRO_SOURCES=${DISTRO_SOURCES:-(unset)} nor in $dir (set DISTRO_SOURCES to the folder of the distribution trees, e.g. ../shared/distro-src); step: fetching the $rel tree"
        fi
        have=$(sha256sum "$dir/$name" | cut -d' ' -f1)
        [[ $have == "$want" ]] || die "$dir/$name: sha256 $have, want $want (systemd-patch/SHA256SUMS); step: fetching the $rel tree"
        if [[ ${sp_distro_format[$rel]} == rpm ]]; then
            # The spec's Source0 is the upstream tarball of its release.
            sp_fetch_source "$(sp_release_of "$rel")"
            sp_source0=$sp_source
            have="$have+$sp_source_sum"
        fi
        sp_source=$dir/$name
        sp_source_sum=$have
        return 0
    fi
    if [[ $(sp_kind "$rel") == debian ]]; then
        dir=$sp_cache/sources/debian-systemd
        # shellcheck disable=SC2012 # Debian's .dsc names: no spaces or newlines to survive
        sp_source=$(ls "$dir"/systemd_252*.dsc 2>/dev/null | sort -V | tail -n1 || true)
        if [[ -z $sp_source ]]; then
            say "apt-get source systemd (Debian bookworm's 252) into $dir"
            # Into a fresh directory first, so an interrupted download never looks complete.
            rm -rf "$dir.part" && mkdir -p "$dir.part"
            sp_apt_source_systemd "$dir.part"
            ls "$dir.part"/systemd_252*.dsc >/dev/null 2>&1 ||
                die "apt-get source systemd gave no systemd_252*.dsc (is this Debian bookworm?)"
            rm -rf "$dir" && mv "$dir.part" "$dir"
            # shellcheck disable=SC2012 # Debian's .dsc names: no spaces or newlines to survive
            sp_source=$(ls "$dir"/systemd_252*.dsc | sort -V | tail -n1)
        fi
        # The .dsc lists the checksums of the tarballs it unpacks; dpkg-source checks them.
        sp_source_sum=$(sha256sum "$sp_source" | cut -d' ' -f1)
        return 0
    fi

    name=systemd-$rel.tar.xz
    want=$(awk -v f="$name" '$2 == f { print $1 }' "$repo/systemd-patch/SHA256SUMS")
    [[ -n $want ]] || die "systemd-patch/SHA256SUMS has no checksum for $name"
    dir=$sp_cache/sources
    if [[ -n ${SYSTEMD_SOURCES:-} && -f $SYSTEMD_SOURCES/$name ]]; then
        sp_take_source "$SYSTEMD_SOURCES/$name" "$want" "fetching the v$rel source"
        sp_source=$dir/$name
    elif [[ -f $dir/$name ]]; then
        sp_source=$dir/$name
    else
        [[ -n ${SYSTEMD_SOURCES:-} ]] && say "no $name in SYSTEMD_SOURCES=$SYSTEMD_SOURCES"
        sp_download_tag "$rel" "$dir/$name"
        sp_source=$dir/$name
    fi
    have=$(sha256sum "$sp_source" | cut -d' ' -f1)
    if [[ $have != "$want" ]]; then
        # A tarball we made from the pinned commit ourselves (xz's output may differ from
        # the published one's bytes, never its content): accepted if its record says so.
        [[ -f $sp_source.commit && $(cat "$sp_source.commit") == "${sp_tag_commit[$rel]} $have" ]] ||
            die "$sp_source: sha256 $have, want $want (systemd-patch/SHA256SUMS)"
    fi
    sp_source_sum=$have
}

# The tag's tree from GitHub, checked against the pinned commit, as `git archive | xz`.
sp_download_tag() {
    local rel=$1 out=$2 tmp commit
    say "downloading v$rel from https://github.com/systemd/systemd-stable"
    tmp=$(mktemp -d)
    git -C "$tmp" init -q
    git -C "$tmp" fetch -q --depth 1 https://github.com/systemd/systemd-stable "refs/tags/v$rel" ||
        { rm -rf "$tmp"; die "cannot download v$rel (no network? set SYSTEMD_SOURCES to a folder of systemd-<release>.tar.xz)"; }
    commit=$(git -C "$tmp" rev-parse 'FETCH_HEAD^{commit}')
    [[ $commit == "${sp_tag_commit[$rel]}" ]] ||
        { rm -rf "$tmp"; die "v$rel is commit $commit upstream, pinned ${sp_tag_commit[$rel]}"; }
    mkdir -p "$(dirname "$out")"
    git -C "$tmp" archive --prefix="systemd-$rel/" FETCH_HEAD | xz -T1 > "$out.part"
    rm -rf "$tmp"
    mv "$out.part" "$out"
    echo "$commit $(sha256sum "$out" | cut -d' ' -f1)" > "$out.commit"
}

# ------------------------------------------------------------------------------ options

# Every optional feature off: the smallest build that has sd-bus, PID 1 and the tests.
# meson releases: every combo option that offers 'false' (libraries, docs, split-usr),
# read from the release's own meson_options.txt. Default buildtype (debug: -O0 -g).
# One library on: the static libudev (-Dstatic-libudev=true, where the release has it),
# which compiles sd-bus a second time, so that a fix patch must reach that target too.
sp_meson_false_options() {
    /usr/bin/python3 - "$1/meson_options.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r"option\('([^']+)'(.*?)\)\s*$", text, re.S | re.M):
    name, rest = m.group(1), m.group(2)
    if re.search(r"type\s*:\s*'combo'", rest) and "'false'" in rest and "'auto'" in rest:
        print("-D%s=false" % name)
    if name == "static-libudev":
        print("-Dstatic-libudev=true")
PY
}

sp_debian_meson_options=(
    -Dmode=release -Dslow-tests=false -Dfuzz-tests=false -Dinstall-tests=false
    -Dstatic-libsystemd=false -Dstatic-libudev=true
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

# 219: every --disable-* feature its configure offers; prefixes as a distribution's, so the
# compiled-in paths (SYSTEMD_BINARY_PATH=/usr/lib/systemd/systemd) match the other releases.
sp_autotools_options=(
    --prefix=/usr --with-rootprefix=/usr --sysconfdir=/etc --localstatedir=/var
    --disable-dependency-tracking --disable-silent-rules
)
for _f in acl apparmor audit backlight binfmt blkid bootchart chkconfig coredump dbus efi \
    elfutils firstboot gcrypt gnutls gudev hibernate hostnamed hwdb ima importd kmod ldconfig \
    libcryptsetup libcurl libidn libiptc localed logind machined manpages microhttpd \
    myhostname networkd nls pam polkit python-devel qrencode quotacheck randomseed resolved \
    rfkill seccomp selinux smack sysusers timedated timesyncd tmpfiles utmp vconsole \
    xkbcommon xz zlib; do
    sp_autotools_options+=("--disable-$_f")
done
unset _f
# -O0: gdb must be able to set b->cookie in a live PID 1 (at -O2 -flto it lives in a register).
sp_autotools_cflags='-g -O0'

# ------------------------------------------------------------------------------ the cache key

# The allocator's sources as the patched build links them (content, not paths or mtimes).
sp_ffi_fingerprint() {
    (cd "$repo" && git ls-files -z -- crates/cookie/Cargo.toml crates/cookie/src \
        ffi/Cargo.toml ffi/src ffi/include ffi/lib/Cargo.toml ffi/lib/Cargo.lock \
        ffi/lib/build.rs ffi/lib/src scripts/install-ffi |
        sort -z | xargs -0 sha256sum)
    # Of the workspace's Cargo.toml, what the allocator and the exports inherit and what
    # changes their code (the version is compiled in); the C library's own workspace,
    # ffi/lib/Cargo.toml above, holds the profile it is built with.
    /usr/bin/python3 -c 'import sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["workspace"]["package"]; print(p["version"], p["edition"])' "$repo/Cargo.toml"
    # The locked versions of what the library links (paths of path dependencies differ
    # between clones).
    (cd "$repo" && cargo tree --manifest-path ffi/lib/Cargo.toml -e normal,build --prefix none \
        --locked --offline | sed 's| (/[^)]*)||' | sort -u)
    rustc -V
    cargo -V
}

sp_tool_versions() {
    gcc --version | head -n1
    case $(sp_kind "$1") in
        autotools) autoconf --version | head -n1; automake --version | head -n1
                   libtoolize --version | head -n1; gperf --version | head -n1 ;;
        *) echo "meson $(PATH=$sys_path meson --version)"; echo "ninja $(ninja --version)"
           gperf --version | head -n1 ;;
    esac
    dpkg-query -W -f='${Package} ${Version}\n' libc6-dev libcap-dev libmount-dev 2>/dev/null
}

# The patches a variant applies with patch(1), in order: the fix first (onto the pristine
# tree), then for stateful its patch on top of the fix, then the build-environment fixes.
# A distribution tree takes our fix through its own series instead (sp_unpack_quilt,
# sp_unpack_rpm), so here it has only the build-environment fixes.
sp_patch_list() {
    local rel=$1 variant=$2 d=$repo/systemd-patch/$1
    if ! sp_is_distro "$rel" && [[ $variant == patched || $variant == stateful ]]; then
        # shellcheck disable=SC2012 # our own patch names: no spaces or newlines to survive
        ls "$d"/*.patch 2>/dev/null | sort || true
    fi
    if [[ $variant == stateful ]]; then
        # shellcheck disable=SC2012 # our own patch names: no spaces or newlines to survive
        ls "$d"/stateful/*.patch 2>/dev/null | sort || true
    fi
    sp_compat_patches "$rel"
}

sp_key() {
    local rel=$1 variant=$2 p
    {
        echo "release $rel variant $variant source $sp_source_sum"
        for p in $(sp_patch_list "$rel" "$variant"); do
            echo "patch ${p#"$repo"/} $(sha256sum < "$p" | cut -d' ' -f1)"
        done
        if sp_is_distro "$rel"; then
            # How the distribution's series and ours are applied.
            declare -f sp_unpack_distro "sp_unpack_${sp_distro_format[$rel]}"
            echo "$sp_fix_file_name $sp_rpm_patch_number"
            [[ $variant == stock ]] || echo "fix $(sha256sum < "$(sp_fix_patch "$rel")" | cut -d' ' -f1)"
        fi
        # How it is built: the build functions as bash sees them (comments do not count) and
        # the options.
        declare -f sp_unpack sp_apply_patches sp_meson_false_options sp_build_meson_like \
            sp_build_pid1_meson sp_build_autotools sp_build_pid1_autotools sp_make_var
        printf '%s\n' "${sp_debian_meson_options[@]}" "${sp_autotools_options[@]}" "$sp_autotools_cflags"
        sp_tool_versions "$rel"
        if [[ $variant == patched || $variant == stateful ]]; then sp_ffi_fingerprint; fi
    } | sha256sum | cut -c1-16
}

# ------------------------------------------------------------------------------ the builds

# sp_build RELEASE VARIANT [pid1]
# Makes sure the (release, variant) build is in the cache: libsystemd.so and every test-bus-*
# program the release defines, and with `pid1` also the full PID 1 (`systemd`, `systemctl`).
# Sets sp_dir (the cache entry), sp_src (the patched tree), sp_bld (where the build is),
# sp_tests (the test-bus-* tests the release registers; every test-bus-* program it defines
# is built), sp_build_secs (0 on a hit) and sp_cache_hit (0/1).
sp_build() {
    local rel=$1 variant=$2 want_pid1=${3:-} kind
    kind=$(sp_kind "$rel")
    sp_fetch_source "$rel"
    sp_dir=$sp_cache/build/$rel/$variant-$(sp_key "$rel" "$variant")
    sp_src=$sp_dir/src
    [[ $kind == autotools ]] && sp_bld=$sp_src || sp_bld=$sp_dir/build
    sp_cached "$rel" "$variant" "$rel $variant" sp_build_tests "$kind"
    mapfile -t sp_tests < "$sp_dir/tests"
    if [[ $want_pid1 == pid1 && ! -f $sp_dir/built-pid1 ]]; then
        say "$rel $variant: building PID 1 (systemd, systemctl)"
        "sp_build_pid1_$kind" "$rel" "$variant"
        touch "$sp_dir/built-pid1"
    fi
    sp_build_secs=$((SECONDS - sp_started))
    exec {sp_lock}>&-
}

# sp_build_tests RELEASE VARIANT KIND: the -O0 build of a cache entry (sp_cached's builder).
sp_build_tests() {
    local rel=$1 variant=$2 kind=$3
    "sp_build_$kind" "$rel" "$variant"
    # (sp_build_meson_like checks this for patched; stateful is a meson release too.)
    if [[ $variant == stateful ]]; then
        grep -E -q "(Run-time d|D)ependency sdbus-cookie found: YES" "$sp_dir/meson-setup.log" ||
            die "$rel stateful: meson did not find dependency('sdbus-cookie') (log: $sp_dir/meson-setup.log)"
    fi
    printf '%s\n' "${sp_tests[@]}" > "$sp_dir/tests"
}

# sp_cached RELEASE VARIANT LABEL BUILDER ARGS...
# The steps every cache entry shares, for the entry $sp_dir (its name ends in -KEY):
# takes the cache's lock, held on return (the caller may add to the entry under it, then
# closes sp_lock): one build at a time per cache, since two runs would build into, or
# prune, the same entry; a second caller waits here, and the lock goes with the process if
# it dies. On a hit says so; on a miss unpacks the patched tree into $sp_src, installs the
# allocator for the patched variants (static only, so that libsystemd and PID 1 embed it
# and nothing needs LD_LIBRARY_PATH), runs `BUILDER RELEASE VARIANT ARGS...`, marks the
# entry built and removes the older keys of the same entry, which no run will ask for again.
# Sets sp_cache_hit (0/1) and sp_started (when the caller began waiting).
sp_cached() {
    local rel=$1 variant=$2 label=$3 builder=$4 d
    shift 4
    sp_started=$SECONDS
    mkdir -p "$sp_cache/build"
    exec {sp_lock}>>"$sp_cache/build/.lock"
    flock "$sp_lock"
    if [[ -f $sp_dir/built ]]; then
        sp_cache_hit=1
        say "$label: cache hit ($sp_dir)"
        return
    fi
    # shellcheck disable=SC2034 # read by verify, which sources this file
    sp_cache_hit=0
    say "$label: cache miss, building in $sp_dir"
    rm -rf "$sp_dir"
    mkdir -p "$sp_dir"
    # Until the stamp, the entry is half-built: sp_abandon (the scripts' exit trap) removes it
    # if anything below fails.
    sp_building=$sp_dir
    if sp_is_distro "$rel"; then
        sp_unpack_distro "$rel" "$variant"
    else
        sp_unpack "$rel" "$variant"
    fi
    if [[ $variant != stock ]]; then
        "$repo/scripts/install-ffi" --static-only "$sp_dir/ffi" > "$sp_dir/install-ffi.log" 2>&1 ||
            { tail -n 20 "$sp_dir/install-ffi.log" >&2; die "install-ffi failed (log: $sp_dir/install-ffi.log)"; }
    fi
    "$builder" "$rel" "$variant" "$@"
    touch "$sp_dir/built"
    sp_building=
    for d in "${sp_dir%-*}"-*; do
        [[ -d $d && $d != "$sp_dir" ]] || continue
        say "$label: removing the outdated cache entry $d"
        rm -rf "$d"
    done
}

# sp_library_facts LIB: "SIZE NEEDED...": the size of LIB stripped (what a distribution
# ships) and its NEEDED entries, space-separated.
sp_library_facts() {
    local stripped size needed
    stripped=$(mktemp)
    strip -o "$stripped" "$1"
    size=$(stat -c %s "$stripped")
    rm -f "$stripped"
    needed=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
    echo "$size ${needed% }"
}

# The exit trap of the scripts that build: a cache entry whose build did not finish is
# removed, so that nothing half-built stays in the cache.
sp_building=
sp_abandon() {
    if [[ -n $sp_building ]]; then
        rm -rf "$sp_building"
        sp_building=
    fi
    return 0
}

sp_unpack() {
    local rel=$1 variant=$2
    mkdir -p "$sp_src"
    if [[ $(sp_kind "$rel") == debian ]]; then
        rmdir "$sp_src"
        dpkg-source --no-copy -x "$sp_source" "$sp_src" > "$sp_dir/unpack.log" 2>&1 ||
            { cat "$sp_dir/unpack.log" >&2; die "dpkg-source -x $sp_source failed"; }
    else
        tar -xJf "$sp_source" -C "$sp_src" --strip-components=1
    fi
    sp_apply_patches "$rel" "$variant"
}

# sp_unpack_distro NAME VARIANT: the distribution's tree in $sp_src with its own patches
# applied by its own tool, and for `patched` our fix added to its series the way its
# maintainer would add it; then the build-environment fixes. Leaves in $sp_dir:
#   package-version      the package's version (debian/changelog, or the spec)
#   distro-patches       "APPLIED TOTAL" of the distribution's own patches
#   ours                 (patched) how ours applied: "fuzz 0"
#   distro-change.diff   (patched) the change a maintainer commits: debian/ or the spec
sp_unpack_distro() {
    local name=$1 variant=$2
    "sp_unpack_${sp_distro_format[$name]}" "$name" "$variant"
    sp_apply_patches "$name" "$variant"
}

# The patch entries of a quilt series file (no comments, no blank lines).
sp_series_entries() {
    grep -v -E '^[[:space:]]*(#|$)' "$1" || true
}

# quilt as dpkg-source applies a 3.0 (quilt) package: every entry of debian/patches/series
# in order, at fuzz 0 (dpkg-source passes patch -F 0). The host's quiltrc is not read, so
# quilt names patches relative to debian/patches.
sp_quilt() {
    (cd "$sp_src" && QUILT_PATCHES=debian/patches QUILT_PC=.pc quilt --quiltrc=/dev/null "$@")
}

sp_unpack_quilt() {
    local name=$1 variant=$2 series total applied next rc=0
    mkdir -p "$sp_src"
    tar -xJf "$sp_source" -C "$sp_src" --strip-components=1
    series=$sp_src/debian/patches/series
    [[ -f $series && -f $sp_src/debian/changelog ]] ||
        die "$name: $sp_source has no debian/patches/series and debian/changelog; step: unpacking the tree"
    dpkg-parsechangelog -l "$sp_src/debian/changelog" -S Version > "$sp_dir/package-version"
    total=$(sp_series_entries "$series" | wc -l)
    if [[ $variant != stock ]]; then
        # What a maintainer commits: the patch as a file of debian/patches/ and its line at
        # the end of series, so that it applies after every distribution patch.
        [[ ! -e $sp_src/debian/patches/$sp_fix_file_name ]] ||
            die "$name: debian/patches/$sp_fix_file_name is already there; step: adding our fix"
        mkdir -p "$sp_dir/change/a" "$sp_dir/change/b"
        cp -a "$sp_src/debian" "$sp_dir/change/a/"
        cp "$(sp_fix_patch "$name")" "$sp_src/debian/patches/$sp_fix_file_name"
        [[ -z $(tail -c1 "$series") ]] || echo >> "$series"
        echo "$sp_fix_file_name" >> "$series"
        cp -a "$sp_src/debian" "$sp_dir/change/b/"
        (cd "$sp_dir/change" && diff -ruN a/debian b/debian) > "$sp_dir/distro-change.diff" || rc=$?
        ((rc == 1)) || die "$name: diff of debian/ gave status $rc; step: adding our fix"
        rm -rf "$sp_dir/change"
    fi
    if ! sp_quilt push -a --fuzz=0 > "$sp_dir/series.log" 2>&1; then
        next=$(sp_quilt next 2>/dev/null || true)
        tail -n 20 "$sp_dir/series.log" >&2
        die "$name: debian/patches/${next:-(an entry of series)} does not apply at fuzz 0; step: quilt push -a (log: $sp_dir/series.log)"
    fi
    applied=$(sp_quilt applied 2>/dev/null | wc -l)
    if [[ $variant != stock ]]; then
        [[ $(sp_quilt top) == "$sp_fix_file_name" ]] ||
            die "$name: quilt did not end with our debian/patches/$sp_fix_file_name; step: quilt push -a"
        applied=$((applied - 1))
        echo "fuzz 0" > "$sp_dir/ours"
    fi
    echo "$applied $total" > "$sp_dir/distro-patches"
}

# The patches %prep ran, in order: rpm hands every source and patch to %__rpmuncompress,
# which sp_unpack_rpm points at a wrapper that writes each one's name to FILE, one line per
# call, before it runs rpm's own (the trace in rpmbuild's log interleaves with the tools'
# output and cannot be counted).
sp_rpm_patches_run() {
    sed -n 's|.*/SOURCES/\([^/]*\.patch\)$|\1|p' "$1" 2>/dev/null || true
}

# rpmbuild -bp, as the distribution's build does its %prep: Source0 unpacked, then every
# PatchNNNN of the spec in order (%autosetup), each at fuzz 0 (rpm's %_default_patch_fuzz,
# set here so that a host's macros cannot raise it). No build dependencies are checked:
# only %prep runs.
sp_unpack_rpm() {
    local name=$1 variant=$2 top=$sp_dir/rpm spec src0 total applied last at_patch at_br built
    mkdir -p "$top/SOURCES" "$top/SPECS" "$top/BUILD" "$sp_dir/packaging"
    tar -xJf "$sp_source" -C "$sp_dir/packaging" --strip-components=1
    # shellcheck disable=SC2012 # the packaging tree's spec names: no spaces or newlines to survive
    spec=$(ls "$sp_dir"/packaging/SPECS/*.spec 2>/dev/null | head -n1 || true)
    [[ -n $spec && -d $sp_dir/packaging/SOURCES ]] ||
        die "$name: $sp_source has no SPECS/*.spec and SOURCES/; step: unpacking the tree"
    cp -a "$sp_dir/packaging/SOURCES/." "$top/SOURCES/"
    cp "$spec" "$top/SPECS/"
    spec=$top/SPECS/$(basename "$spec")
    rm -rf "$sp_dir/packaging"
    # Source0 is the upstream tarball, which the packaging repository keeps out of git.
    src0=$(rpmspec -P "$spec" 2>/dev/null | sed -n 's/^Source0\{0,1\}:[[:space:]]*//p' | head -n1)
    [[ $src0 == *.tar.gz ]] || die "$name: the spec's Source0 is '${src0:-none}', expected a .tar.gz; step: reading the spec"
    xz -dc "$sp_source0" | gzip -n -1 > "$top/SOURCES/$(basename "$src0")"
    rpmspec -q --srpm --qf '%{VERSION}-%{RELEASE}\n' "$spec" 2>/dev/null > "$sp_dir/package-version"
    total=$(grep -c -E '^Patch[0-9]+:' "$spec" || true)
    if [[ $variant != stock ]]; then
        # What a maintainer commits: the patch in SOURCES/ and one PatchNNNN line after the
        # spec's last, with the library's build dependency after its last BuildRequires.
        grep -q -E "^Patch$sp_rpm_patch_number:" "$spec" &&
            die "$name: the spec already has a Patch$sp_rpm_patch_number; step: adding our fix"
        cp "$(sp_fix_patch "$name")" "$top/SOURCES/$sp_fix_file_name"
        cp "$spec" "$sp_dir/spec.orig"
        at_patch=$(grep -n -E '^Patch[0-9]+:' "$spec" | tail -n1 | cut -d: -f1)
        at_br=$(grep -n -E '^BuildRequires:' "$spec" | tail -n1 | cut -d: -f1)
        [[ -n $at_patch && -n $at_br ]] || die "$name: the spec has no Patch or BuildRequires line; step: adding our fix"
        # The later line first, so that the earlier line's number still holds.
        if ((at_patch > at_br)); then
            sed -i "${at_patch}a Patch$sp_rpm_patch_number: $sp_fix_file_name" "$spec"
            sed -i "${at_br}a BuildRequires:  pkgconfig(sdbus-cookie)" "$spec"
        else
            sed -i "${at_br}a BuildRequires:  pkgconfig(sdbus-cookie)" "$spec"
            sed -i "${at_patch}a Patch$sp_rpm_patch_number: $sp_fix_file_name" "$spec"
        fi
        diff -u --label "a/SPECS/$(basename "$spec")" --label "b/SPECS/$(basename "$spec")" \
            "$sp_dir/spec.orig" "$spec" > "$sp_dir/distro-change.diff" || true
        rm -f "$sp_dir/spec.orig"
    fi
    printf '#!/bin/sh\nprintf "%%s\\n" "$*" >> "%s"\nexec %s "$@"\n' "$sp_dir/prep-files" \
        "$(rpm --eval '%{__rpmuncompress}')" > "$sp_dir/rpmuncompress"
    chmod +x "$sp_dir/rpmuncompress"
    : > "$sp_dir/prep-files"
    if ! rpmbuild -bp --nodeps --define "_topdir $top" --define "_default_patch_fuzz 0" \
        --define "__rpmuncompress $sp_dir/rpmuncompress" "$spec" > "$sp_dir/series.log" 2>&1; then
        last=$(sp_rpm_patches_run "$sp_dir/prep-files" | tail -n1)
        tail -n 20 "$sp_dir/series.log" >&2
        die "$name: ${last:-a patch of the spec} does not apply at fuzz 0; step: rpmbuild -bp (log: $sp_dir/series.log)"
    fi
    applied=$(sp_rpm_patches_run "$sp_dir/prep-files" | wc -l)
    if [[ $variant != stock ]]; then
        last=$(sp_rpm_patches_run "$sp_dir/prep-files" | tail -n1)
        [[ $last == "$sp_fix_file_name" ]] ||
            die "$name: %prep did not end with our $sp_fix_file_name (last: ${last:-none}); step: rpmbuild -bp"
        applied=$((applied - 1))
        echo "fuzz 0" > "$sp_dir/ours"
    fi
    echo "$applied $total" > "$sp_dir/distro-patches"
    built=$(find "$top/BUILD" -mindepth 1 -maxdepth 1 -type d | head -n1)
    [[ -n $built && -f $built/configure.ac ]] || die "$name: rpmbuild -bp left no source tree in $top/BUILD"
    mv "$built" "$sp_src"
    rm -rf "$top"
}

# sp_apply_patches RELEASE VARIANT: sp_patch_list's patches onto $sp_src, each at fuzz 0.
sp_apply_patches() {
    local rel=$1 variant=$2 p out
    for p in $(sp_patch_list "$rel" "$variant"); do
        # No fuzz: a context that moved is fine (offset), one that changed is not.
        if ! out=$(patch -d "$sp_src" -p1 --dry-run --batch --fuzz=0 < "$p" 2>&1); then
            printf '%s\n' "$out" >&2
            die "${p#"$repo"/} does not apply to $rel: the FAILED hunk and its file are named above"
        fi
        patch -d "$sp_src" -p1 --batch --fuzz=0 --no-backup-if-mismatch --quiet < "$p" ||
            die "${p#"$repo"/}: patch failed after a clean dry run"
        say "$rel $variant: applied ${p#"$repo"/}"
    done
}

sp_pkg_config_path() {
    [[ $2 == patched || $2 == stateful ]] && echo "$sp_dir/ffi/lib/pkgconfig" || echo ""
}

sp_build_meson() { sp_build_meson_like "$@"; }
sp_build_debian() { sp_build_meson_like "$@"; }

sp_build_meson_like() {
    local rel=$1 variant=$2 opts=() lib programs
    if [[ $(sp_kind "$rel") == debian ]]; then
        opts=("${sp_debian_meson_options[@]}")
    else
        mapfile -t opts < <(sp_meson_false_options "$sp_src")
    fi
    PKG_CONFIG_PATH=$(sp_pkg_config_path "$rel" "$variant") PATH=$sys_path \
        meson setup "$sp_bld" "$sp_src" -Dtests=true "${opts[@]}" > "$sp_dir/meson-setup.log" 2>&1 ||
        { tail -n 30 "$sp_dir/meson-setup.log" >&2; die "$rel $variant: meson setup failed (log: $sp_dir/meson-setup.log)"; }
    if [[ $variant == patched ]]; then
        grep -E -q "(Run-time d|D)ependency sdbus-cookie found: YES" "$sp_dir/meson-setup.log" ||
            die "$rel patched: meson did not find dependency('sdbus-cookie') (log: $sp_dir/meson-setup.log)"
    fi
    lib=$(ninja -C "$sp_bld" -t targets all | sed -n 's/^\(libsystemd\.so\.[0-9.]*\): .*/\1/p' | head -n1)
    [[ -n $lib ]] || die "$rel $variant: no libsystemd.so.* target"
    # Every test-bus-* the release registers with meson (manual ones, such as the benchmark,
    # are not listed: upstream does not run them as tests).
    mapfile -t sp_tests < <(PATH=$sys_path meson test -C "$sp_bld" --list 2>/dev/null |
        sed -n 's|^\(systemd:[a-z0-9-]* / \)\{0,1\}\(test-bus-[a-z0-9-]*\)$|\2|p' | sort -u)
    ((${#sp_tests[@]} >= 10)) || die "$rel $variant: meson test --list shows only ${#sp_tests[@]} test-bus-* tests"
    # Built: every test-bus-* program the release defines, the manual ones too, and the
    # static libudev where it is on (it compiles sd-bus too).
    mapfile -t programs < <(ninja -C "$sp_bld" -t targets all | sed -n 's/^\(test-bus-[a-z0-9-]*\): .*/\1/p' | sort -u)
    # The internal static libraries libsystemd.so is made of, which verify's lookup and
    # wide-cookie tests link (not every release's own tests do).
    local t
    for t in src/libsystemd/libsystemd_static.a src/libsystemd/libsystemd.a src/basic/libbasic.a \
        src/basic/libbasic-compress.a; do
        ninja -C "$sp_bld" -t targets all | grep -q "^$t:" && programs+=("$t")
    done
    if grep -q -- '-Dstatic-libudev=true' <<<"${opts[*]}"; then
        programs+=("$(ninja -C "$sp_bld" -t targets all | sed -n 's/^\(\(src\/udev\/\)\{0,1\}libudev\.a\): .*/\1/p' | head -n1)")
        [[ -n ${programs[-1]} ]] || die "$rel $variant: -Dstatic-libudev=true but no libudev.a target"
    fi
    PATH=$sys_path ninja -C "$sp_bld" "$lib" "${programs[@]}" > "$sp_dir/ninja.log" 2>&1 ||
        { grep -E -B2 -A8 'error|FAILED' "$sp_dir/ninja.log" | tail -n 40 >&2; die "$rel $variant: ninja failed (log: $sp_dir/ninja.log)"; }
    ln -sfn "$lib" "$sp_bld/libsystemd.so.built"
}

sp_build_pid1_meson() {
    PATH=$sys_path ninja -C "$sp_bld" systemd systemctl > "$sp_dir/ninja-pid1.log" 2>&1 ||
        { grep -E -B2 -A8 'error|FAILED' "$sp_dir/ninja-pid1.log" | tail -n 40 >&2; die "$1 $2: ninja systemd failed (log: $sp_dir/ninja-pid1.log)"; }
}
sp_build_pid1_debian() { sp_build_pid1_meson "$@"; }

# make's view of a variable of the generated Makefile.
sp_make_var() {
    make -s -C "$sp_src" -f Makefile -f - "print-$1" <<'MK'
print-%:
	@echo $($*)
MK
}

sp_build_autotools() {
    local rel=$1 variant=$2 jobs
    jobs=$(nproc)
    (cd "$sp_src" && PATH=$sys_path NOCONFIGURE=1 ./autogen.sh) > "$sp_dir/autogen.log" 2>&1 ||
        { tail -n 30 "$sp_dir/autogen.log" >&2; die "$rel $variant: autogen.sh failed (log: $sp_dir/autogen.log)"; }
    (cd "$sp_src" && PKG_CONFIG_PATH=$(sp_pkg_config_path "$rel" "$variant") PATH=$sys_path \
        ./configure CFLAGS="$sp_autotools_cflags" "${sp_autotools_options[@]}") > "$sp_dir/configure.log" 2>&1 ||
        { tail -n 30 "$sp_dir/configure.log" >&2; die "$rel $variant: configure failed (log: $sp_dir/configure.log)"; }
    if [[ $variant == patched ]]; then
        grep -q '^SDBUS_COOKIE_LIBS = .*-lsdbus_cookie' "$sp_src/Makefile" ||
            die "$rel patched: configure did not take sdbus-cookie's flags from pkg-config"
    fi
    mapfile -t sp_tests < <(sp_make_var tests | tr ' ' '\n' | grep '^test-bus-' | sort -u)
    ((${#sp_tests[@]} >= 10)) || die "$rel $variant: the Makefile lists only ${#sp_tests[@]} test-bus-* tests"
    # What the overflow test links beside libsystemd-internal: on 219 trees also
    # libsystemd-units (install.c), which a distribution's sd-bus may call into (XCP-ng's
    # bus-util.c does).
    local extra=()
    [[ " $(sp_make_var noinst_LTLIBRARIES) " == *" libsystemd-units.la "* ]] && extra+=(libsystemd-units.la)
    # The generated headers first: the library targets do not depend on BUILT_SOURCES.
    # shellcheck disable=SC2046,SC2015 # the variable's words are targets; die ends the script if either make fails
    PATH=$sys_path make -C "$sp_src" -j"$jobs" $(sp_make_var BUILT_SOURCES) > "$sp_dir/make.log" 2>&1 &&
        PATH=$sys_path make -C "$sp_src" -j"$jobs" libsystemd.la "${extra[@]}" "${sp_tests[@]}" >> "$sp_dir/make.log" 2>&1 ||
        { grep -E -B2 -A8 'error|Error' "$sp_dir/make.log" | tail -n 40 >&2; die "$rel $variant: make failed (log: $sp_dir/make.log)"; }
}

sp_build_pid1_autotools() {
    PATH=$sys_path make -C "$sp_src" -j"$(nproc)" systemd systemctl > "$sp_dir/make-pid1.log" 2>&1 ||
        { grep -E -B2 -A8 'error|Error' "$sp_dir/make-pid1.log" | tail -n 40 >&2; die "$1 $2: make systemd failed (log: $sp_dir/make-pid1.log)"; }
}

# ------------------------------------------------------------------------------ the bench flavour

# Optimised builds of libsystemd for benches/ (sp_build_bench). The builds above are -O0 -g
# for the debugger and the tests; a bench of that code would measure the missing optimiser.
# Here every variant of a release is built from its own unpacked tree of the same source,
# with the same patches as sp_build applies (sp_unpack), and with the same flags for every
# variant: meson's debugoptimized buildtype (-O2 -g; -g keeps perf's annotations and does
# not change the code), the same feature options as sp_build_meson_like, no tests.
# Only libsystemd.so is built. Meson releases only (241 and later: sd_bus_message_seal and
# sd_bus_call_async, which the benches use, are public there).
#
# Entries live in build/<release>/bench/<variant>-<key>/, a folder of their own: the
# pruning of older -O0 keys (sp_cached's glob <variant>-*) does not reach them, and the -O0
# keys (sp_key) do not change. The bench key hashes the -O0 key of the same (release,
# variant) — source, patches, tool versions, the allocator — and the bench build step
# (sp_bench_configure) and flags. Neither key hashes the caching steps (sp_cached), which
# do not change what is built.
sp_bench_meson_args=(--buildtype=debugoptimized -Dtests=false)

sp_bench_key() {
    {
        echo "flavour bench"
        sp_key "$1" "$2"
        declare -f sp_bench_configure
        printf '%s\n' "${sp_bench_meson_args[@]}"
    } | sha256sum | cut -c1-16
}

# sp_bench_configure RELEASE VARIANT: meson setup and ninja of libsystemd.so in $sp_bld.
sp_bench_configure() {
    local rel=$1 variant=$2 opts=() lib pc=
    if [[ $(sp_kind "$rel") == debian ]]; then
        opts=("${sp_debian_meson_options[@]}")
    else
        mapfile -t opts < <(sp_meson_false_options "$sp_src")
    fi
    [[ $variant == stock ]] || pc=$sp_dir/ffi/lib/pkgconfig
    PKG_CONFIG_PATH=$pc PATH=$sys_path \
        meson setup "$sp_bld" "$sp_src" "${sp_bench_meson_args[@]}" "${opts[@]}" > "$sp_dir/meson-setup.log" 2>&1 ||
        { tail -n 30 "$sp_dir/meson-setup.log" >&2; die "$rel $variant (bench): meson setup failed (log: $sp_dir/meson-setup.log)"; }
    if [[ $variant != stock ]]; then
        grep -E -q "(Run-time d|D)ependency sdbus-cookie found: YES" "$sp_dir/meson-setup.log" ||
            die "$rel $variant (bench): meson did not find dependency('sdbus-cookie') (log: $sp_dir/meson-setup.log)"
    fi
    lib=$(ninja -C "$sp_bld" -t targets all | sed -n 's/^\(libsystemd\.so\.[0-9.]*\): .*/\1/p' | head -n1)
    [[ -n $lib ]] || die "$rel $variant (bench): no libsystemd.so.* target"
    PATH=$sys_path ninja -C "$sp_bld" "$lib" > "$sp_dir/ninja.log" 2>&1 ||
        { grep -E -B2 -A8 'error|FAILED' "$sp_dir/ninja.log" | tail -n 40 >&2; die "$rel $variant (bench): ninja failed (log: $sp_dir/ninja.log)"; }
    ln -sfn "$lib" "$sp_bld/libsystemd.so.built"
}

# sp_build_bench RELEASE VARIANT
# Makes sure the optimised (release, variant) libsystemd is in the cache. Sets sp_dir,
# sp_src, sp_bld, sp_bench_lib (the absolute path of its libsystemd.so), sp_build_secs (0 on
# a hit) and sp_cache_hit (0/1). Takes the same lock as sp_build: one build at a time.
sp_build_bench() {
    local rel=$1 variant=$2
    [[ $(sp_kind "$rel") != autotools ]] || die "$rel: the bench flavour builds meson releases only"
    sp_fetch_source "$rel"
    sp_dir=$sp_cache/build/$rel/bench/$variant-$(sp_bench_key "$rel" "$variant")
    sp_src=$sp_dir/src
    sp_bld=$sp_dir/build
    sp_cached "$rel" "$variant" "$rel $variant (bench, -O2)" sp_bench_configure
    exec {sp_lock}>&-
    sp_bench_lib=$(readlink -f "$sp_bld/libsystemd.so.built")
    [[ -f $sp_bench_lib ]] || die "$rel $variant (bench): no $sp_bld/libsystemd.so.built"
    # shellcheck disable=SC2034 # read by verify, which sources this file
    sp_build_secs=$((SECONDS - sp_started))
}
