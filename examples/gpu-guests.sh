#!/bin/sh
# gpu-guests.sh - print the GPU guests of this host as JSON:
#
#   {"guests": [{"domid": 3, "name": "render1",
#                "cards": [{"bdf": "0000:01:00.0", "vendor": "10de",
#                           "device": "2204"}]}]}
#
# Built on `xengpu list --json` (which domain holds which card, from
# libxl) and `xl domname`.  Run as root in dom0: others see no domains.
# Uses jq when it is installed (Debian: apt-get install jq); without jq
# it reads the pretty layout `xengpu list --json` prints (card members
# indented by 12 spaces).  POSIX sh.
set -eu

XENGPU=${XENGPU:-xengpu}
XL=${XL:-xl}

list=$("$XENGPU" list --json)

# One line per held card: DOMID BDF VENDOR DEVICE, sorted by domid.
held() {
	if command -v jq >/dev/null 2>&1; then
		printf '%s\n' "$list" | jq -r \
			'.cards[] | select(.domain != null) |
			 "\(.domain) \(.bdf) \(.vendor) \(.device)"'
	else
		printf '%s\n' "$list" | awk '
			function val(s) { sub(/^[^:]*: */, "", s); gsub(/[",]/, "", s); return s }
			/^        \{/ { bdf = ""; ven = ""; dev = ""; dom = "null" }
			/^            "bdf": / { bdf = val($0) }
			/^            "vendor": / { ven = val($0) }
			/^            "device": / { dev = val($0) }
			/^            "domain": / { dom = val($0) }
			/^        \}/ { if (dom != "null") print dom, bdf, ven, dev }'
	fi | sort -n
}

# JSON string escaping for domain names (xl allows most characters).
json_str() {
	printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"
}

printf '{"guests": ['
held | {
	last=
	sep=
	csep=
	while read -r domid bdf vendor device; do
		if [ "$domid" != "$last" ]; then
			[ -n "$last" ] && printf ']}'
			name=$("$XL" domname "$domid" 2>/dev/null || true)
			printf '%s{"domid": %s, "name": %s, "cards": [' "$sep" \
				"$domid" "$(json_str "$name")"
			sep=', '
			csep=
			last=$domid
		fi
		printf '%s{"bdf": "%s", "vendor": "%s", "device": "%s"}' "$csep" \
			"$bdf" "$vendor" "$device"
		csep=', '
	done
	if [ -n "$last" ]; then printf ']}'; fi
}
printf ']}\n'
