#!/usr/bin/env bash
# Checks a Steller webhook delivery saved from your logs, with openssl: the headers as
# arguments, the body on stdin, byte for byte (the webhooks guide's shell sample).
#
#   WEBHOOK_SECRET=whsec_... ./verify.sh "$webhook_id" "$webhook_timestamp" "$webhook_signature" <body.json
#
# It prints "accepted" and exits 0, or prints why not and exits 1.
set -euo pipefail
id=$1 ts=$2 sigs=$3
tolerance=300 # seconds webhook-timestamp may be from this machine's clock

reject() { echo "rejected: $*"; exit 1; }
[[ $ts =~ ^[0-9]+$ ]] || reject "webhook-timestamp is not a number"
age=$(($(date +%s) - 10#$ts))
((age <= tolerance && age >= -tolerance)) || reject "webhook-timestamp is more than 5 minutes away"

# openssl wants the HMAC key in hex: the secret after whsec_, base64-decoded.
key=$(printf '%s' "${WEBHOOK_SECRET#whsec_}" | openssl base64 -d -A | od -An -vtx1 | tr -d ' \n') || key=
[ -n "$key" ] || reject "the secret is not whsec_ and base64"
hmac() { openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary; }
want=$({ printf '%s.%s.' "$id" "$ts"; cat; } | hmac | openssl base64 -A)

# During a secret rotation the header holds one signature per secret. Each is compared as
# the HMAC of itself with the HMAC of the expected one, so the time a comparison takes
# says nothing about the expected signature (what a constant-time compare achieves).
want_mac=$(printf '%s' "$want" | hmac | od -An -vtx1)
read -ra parts <<<"$sigs"
for part in "${parts[@]}"; do
	[[ $part == v1,* ]] || continue
	if [ "$(printf '%s' "${part#v1,}" | hmac | od -An -vtx1)" = "$want_mac" ]; then
		echo accepted
		exit 0
	fi
done
reject "no signature matches"
