#!/bin/sh
# copyright.sh: print the machine-readable debian/copyright of the ocfkit
# package (https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/):
# ocfkit itself, Go's standard library and every Go module linked into the
# binaries, each with its license, read from the module's own LICENSE file.
# Run from the repository; GO names the go command, PKGS the packages
# (default ./cmd/...), GOOS the system they are built for.
set -eu
GO=${GO:-go}

# copyright_line matches the copyright lines of a license text.
copyright_line='^[#[:space:]]*copyright \(([cC])\|[0-9]\)'

license_of() { # FILE: the SPDX-style short name of a license text
	if grep -q 'Apache License' "$1"; then echo Apache-2.0
	elif grep -q 'Mozilla Public License Version 2.0' "$1"; then echo MPL-2.0
	elif grep -q 'Permission is hereby granted, free of charge' "$1"; then echo Expat
	elif grep -q 'Neither the name' "$1"; then echo BSD-3-clause
	elif grep -q 'Redistribution and use' "$1"; then echo BSD-2-clause
	else echo "unknown license in $1" >&2; exit 1
	fi
}

holders_of() { # FILE MODULE: the copyright lines of a license text
	h=$(grep -i "$copyright_line" "$1" | grep -v '\[yyyy\]' |
		sed 's/^[#[:space:]]*[Cc]opyright *\(([Cc]) *\)\{0,1\}//' | head -3)
	if [ -n "$h" ]; then echo "$h"; else echo "the $2 authors"; fi
}

text_of() { # FILE LICENSE: the license text as a DEP-5 field continuation
	case $2 in
	Apache-2.0)
		printf ' On Debian systems, the full text of the Apache License, Version 2.0\n'
		printf ' is in /usr/share/common-licenses/Apache-2.0.\n' ;;
	MPL-2.0)
		printf ' On Debian systems, the full text of the Mozilla Public License, Version 2.0\n'
		printf ' is in /usr/share/common-licenses/MPL-2.0.\n' ;;
	*)
		# Drop title and copyright lines; blank lines become " .".
		grep -v -i "$copyright_line"'\|^[#=[:space:]]*\(the \)\{0,1\}mit license[[:space:]=]*$\|^==*$\|^[[:space:]]*All rights reserved\.$' "$1" |
			sed -e 's/^[[:space:]]*$/./' -e 's/^/ /' | awk '$0 == " ." && (!started || dot) {next} {started = 1; dot = ($0 == " ."); print}' | sed '$ { /^ \.$/d }' ;;
	esac
}

field() { # NAME VALUE...: a field whose further lines are indented
	first=1
	printf '%s\n' "$2" | while IFS= read -r line; do
		if [ $first = 1 ]; then printf '%s: %s\n' "$1" "$line"; first=0; else printf ' %s\n' "$line"; fi
	done
}

cat <<'HEAD'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ocfkit
Source: https://github.com/ocfkit/ocfkit

Files: *
Copyright: the ocfkit authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0
 is in /usr/share/common-licenses/Apache-2.0.
HEAD

goroot=$($GO env GOROOT)
printf '\nFiles: go/*\nComment: Go standard library and runtime %s, statically linked into the binaries.\n' "$($GO env GOVERSION)"
field Copyright "$(holders_of "$goroot/LICENSE" Go)"
printf 'License: %s\n' "$(license_of "$goroot/LICENSE")"
text_of "$goroot/LICENSE" "$(license_of "$goroot/LICENSE")"

GOFLAGS=-tags=$(cat "$(dirname "$0")/../../build.tags") $GO list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}' ${PKGS:-./cmd/...} |
	sort -u | while read -r path version dir; do
	lic=$(ls "$dir" | grep -i -m1 '^\(license\|copying\)') || { echo "no license file in $dir" >&2; exit 1; }
	name=$(license_of "$dir/$lic")
	printf '\nFiles: vendor/%s/*\nComment: Go module %s %s, statically linked into the binaries.\n' "$path" "$path" "$version"
	field Copyright "$(holders_of "$dir/$lic" "$path")"
	printf 'License: %s\n' "$name"
	text_of "$dir/$lic" "$name"
done
