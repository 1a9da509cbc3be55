#!/bin/sh
# meson install script (config/meson.build): install-conf.sh DIR SRC NAME [SRC NAME...]
# installs each SRC as DIR/NAME (under $DESTDIR) with mode 0644, unless a
# file is there already: an operator's configuration is never overwritten;
# a different new version goes beside it as NAME.new, as dpkg would do.
set -eu
dir="${DESTDIR:-}$1"
shift
mkdir -p "$dir"
chmod 0755 "$dir"
while [ $# -ge 2 ]; do
    src=$1 name=$2
    shift 2
    if [ ! -e "$dir/$name" ]; then
        install -m 0644 "$src" "$dir/$name"
        echo "Installing $src to $dir/$name"
    elif cmp -s "$src" "$dir/$name"; then
        echo "Keeping $dir/$name (the same as $src)"
    else
        install -m 0644 "$src" "$dir/$name.new"
        echo "Keeping $dir/$name (changed locally); the new example is $dir/$name.new"
    fi
done
