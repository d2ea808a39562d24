#!/bin/sh
# Installs libdemi into a scratch DESTDIR, builds consumer.c as an outside
# application would (installed headers + pkg-config libdemi only, both the
# shared and the static library) and runs it.
# Usage: check-install.sh BUILDDIR SRCDIR
set -eu
build=$1
src=$2
dest=$(mktemp -d "${TMPDIR:-/tmp}/demi-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --quiet >/dev/null
# A sanitized libdemi needs a sanitized application (the runtime must load first).
san=$(meson introspect "$build" --buildoptions |
      python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="b_sanitize"))')
cflags=""
[ "$san" != "none" ] && cflags="-fsanitize=$san"
pcdir=$(dirname "$(find "$dest" -name libdemi.pc | head -1)")
# Point libdemi.pc's prefix into DESTDIR. (A sysroot or --define-variable
# would also move the paths of the system libraries libdemi.pc requires.)
sed -i "s|^prefix=|prefix=$dest|" "$pcdir/libdemi.pc"
export PKG_CONFIG_PATH="$pcdir"
pc() { pkg-config "$@"; }
libdir=$(pc --variable=libdir libdemi)
cc -std=gnu11 -Wall -Werror $cflags -o "$dest/consumer" "$src/consumer.c" $(pc --cflags --libs libdemi)
LD_LIBRARY_PATH="$libdir" DEMI_LIBOS=posix "$dest/consumer"
# libdemi.a itself, with the libraries it uses from Libs.private.
cc -std=gnu11 -Wall -Werror $cflags -o "$dest/consumer-static" "$src/consumer.c" \
    $(pc --cflags libdemi) "$libdir/libdemi.a" $(pc --libs --static libdemi | sed 's/ -ldemi / /; s/^-ldemi //')
DEMI_LIBOS=posix "$dest/consumer-static"
echo "check-install: shared and static builds ok"
