# Sourced by systemd-patch/verify and systemd-patch/build-pid1 (not run): where each systemd
# release's source comes from, how each is configured and built here, and the cache of those
# builds.
#
# Releases: 219 237 239 241 (the unmodified upstream tags, which have the cookie overflow)
# and 252 (Debian bookworm's source package, fixed upstream since v242).
#
# Every build is one (release, variant) pair, variant `stock`, `patched` or `stateful`, made
# from one unpacked tree with the same flags:
#   stock    the release + its build-compat/*.patch (today's toolchain only)
#   patched  the release + its *.patch (the fix, applied first, to the pristine tree) +
#            build-compat/*.patch, linked against libsdbus_cookie.a (install-ffi --static-only)
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
#      SDBUS_COOKIE_CACHE  the cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/sdbus-cookie)

sp_all_releases=(219 237 239 241 252)
sp_cache=${SDBUS_COOKIE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sdbus-cookie}

# The upstream tags, for a download when no tarball is at hand (the tarballs in
# SHA256SUMS are `git archive --prefix=systemd-<release>/` of these commits, xz-compressed).
declare -A sp_tag_commit=(
    [219]=a88abde72169ddc2df77df3fa5bed30725022253
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
    for r in "${sp_all_releases[@]}"; do
        [[ $1 == "$r" ]] && return 0
    done
    die "unknown release '$1' (known: ${sp_all_releases[*]})"
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

# Which build system and which kind of source each release has.
sp_kind() {
    case $1 in
        219) echo autotools ;;
        252) echo debian ;;
        *) echo meson ;;
    esac
}

# ------------------------------------------------------------------------------ packages

# What every build here needs (and what verify itself uses). Keep in sync with
# scripts/install-deps. libsystemd-dev is the host's own (for 252's stock control it is not
# used: the control is built from the same tree), pinned so that nothing upgrades systemd.
sp_packages() {
    local deps=(
        dpkg-dev patch git xz-utils              # sources: apt-get source, git archive, patches
        meson ninja-build gperf pkg-config m4 rsync  # meson releases
        autoconf automake libtool intltool gettext   # 219 (autotools)
        gcc g++                                  # C, and C++ for test-bus-vtable-cc
        libcap-dev libmount-dev python3-jinja2   # required by the releases' build files
        dbus-daemon                              # the private bus for the tests
    )
    local missing=() p
    for p in "${deps[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$p")
    done
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

# Sets sp_source (a file: the release tarball, or 252's .dsc) and sp_source_sum (its sha256).
sp_fetch_source() {
    local rel=$1 name want have dir
    if [[ $(sp_kind "$rel") == debian ]]; then
        dir=$sp_cache/sources/debian-systemd
        sp_source=$(ls "$dir"/systemd_252*.dsc 2>/dev/null | sort -V | tail -n1 || true)
        if [[ -z $sp_source ]]; then
            say "apt-get source systemd (Debian bookworm's 252) into $dir"
            # Into a fresh directory first, so an interrupted download never looks complete.
            rm -rf "$dir.part" && mkdir -p "$dir.part"
            sp_apt_source_systemd "$dir.part"
            ls "$dir.part"/systemd_252*.dsc >/dev/null 2>&1 ||
                die "apt-get source systemd gave no systemd_252*.dsc (is this Debian bookworm?)"
            rm -rf "$dir" && mv "$dir.part" "$dir"
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
        # Copied into the cache, so that later runs without SYSTEMD_SOURCES find it there.
        if ! cmp -s "$SYSTEMD_SOURCES/$name" "$dir/$name"; then
            mkdir -p "$dir"
            cp "$SYSTEMD_SOURCES/$name" "$dir/$name.part" && mv "$dir/$name.part" "$dir/$name"
        fi
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
sp_meson_false_options() {
    /usr/bin/python3 - "$1/meson_options.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r"option\('([^']+)'(.*?)\)\s*$", text, re.S | re.M):
    name, rest = m.group(1), m.group(2)
    if re.search(r"type\s*:\s*'combo'", rest) and "'false'" in rest and "'auto'" in rest:
        print("-D%s=false" % name)
PY
}

sp_debian_meson_options=(
    -Dmode=release -Dslow-tests=false -Dfuzz-tests=false -Dinstall-tests=false
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
        ffi/Cargo.toml ffi/build.rs ffi/src ffi/include scripts/install-ffi |
        sort -z | xargs -0 sha256sum)
    # Of the workspace's Cargo.toml, what changes how the library is compiled.
    /usr/bin/python3 -c 'import sys, tomllib; d = tomllib.load(open(sys.argv[1], "rb")); print(d.get("profile"), d["workspace"].get("package"))' "$repo/Cargo.toml"
    # The locked versions of what the library links, not of the whole workspace (paths of
    # path dependencies differ between clones).
    (cd "$repo" && cargo tree -p sdbus-cookie-ffi -e normal,build --prefix none --locked --offline |
        sed 's| (/[^)]*)||' | sort -u)
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

# The patches a variant applies, in order: the fix first (onto the pristine tree), then for
# stateful its patch on top of the fix, then the build-environment fixes.
sp_patch_list() {
    local rel=$1 variant=$2 d=$repo/systemd-patch/$1
    if [[ $variant == patched || $variant == stateful ]]; then
        ls "$d"/*.patch 2>/dev/null | sort || true
    fi
    if [[ $variant == stateful ]]; then
        ls "$d"/stateful/*.patch 2>/dev/null | sort || true
    fi
    ls "$d"/build-compat/*.patch 2>/dev/null | sort || true
}

sp_key() {
    local rel=$1 variant=$2 p
    {
        echo "release $rel variant $variant source $sp_source_sum"
        for p in $(sp_patch_list "$rel" "$variant"); do
            echo "patch ${p#"$repo"/} $(sha256sum < "$p" | cut -d' ' -f1)"
        done
        # How it is built: the build functions as bash sees them (comments do not count) and
        # the options.
        declare -f sp_unpack sp_meson_false_options sp_build_meson_like sp_build_pid1_meson \
            sp_build_autotools sp_build_pid1_autotools sp_make_var
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
    sp_cache_hit=0
    say "$label: cache miss, building in $sp_dir"
    rm -rf "$sp_dir"
    mkdir -p "$sp_dir"
    sp_unpack "$rel" "$variant"
    if [[ $variant != stock ]]; then
        "$repo/scripts/install-ffi" --static-only "$sp_dir/ffi" > "$sp_dir/install-ffi.log" 2>&1 ||
            { tail -n 20 "$sp_dir/install-ffi.log" >&2; die "install-ffi failed (log: $sp_dir/install-ffi.log)"; }
    fi
    "$builder" "$rel" "$variant" "$@"
    touch "$sp_dir/built"
    for d in "${sp_dir%-*}"-*; do
        [[ -d $d && $d != "$sp_dir" ]] || continue
        say "$label: removing the outdated cache entry $d"
        rm -rf "$d"
    done
}

sp_unpack() {
    local rel=$1 variant=$2 p
    mkdir -p "$sp_src"
    if [[ $(sp_kind "$rel") == debian ]]; then
        rmdir "$sp_src"
        dpkg-source --no-copy -x "$sp_source" "$sp_src" > "$sp_dir/unpack.log" 2>&1 ||
            { cat "$sp_dir/unpack.log" >&2; die "dpkg-source -x $sp_source failed"; }
    else
        tar -xJf "$sp_source" -C "$sp_src" --strip-components=1
    fi
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
    # Built: every test-bus-* program the release defines, the manual ones too.
    mapfile -t programs < <(ninja -C "$sp_bld" -t targets all | sed -n 's/^\(test-bus-[a-z0-9-]*\): .*/\1/p' | sort -u)
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
    # The generated headers first: the library targets do not depend on BUILT_SOURCES.
    # shellcheck disable=SC2046
    PATH=$sys_path make -C "$sp_src" -j"$jobs" $(sp_make_var BUILT_SOURCES) > "$sp_dir/make.log" 2>&1 &&
        PATH=$sys_path make -C "$sp_src" -j"$jobs" libsystemd.la "${sp_tests[@]}" >> "$sp_dir/make.log" 2>&1 ||
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
    sp_build_secs=$((SECONDS - sp_started))
}
