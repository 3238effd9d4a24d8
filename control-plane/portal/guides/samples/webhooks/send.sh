#!/usr/bin/env bash
# Sends your receiver a request signed as Steller signs a delivery, with openssl and curl,
# to test the receiver before any order (the webhooks guide's curl sample).
#
#   WEBHOOK_SECRET=whsec_... ./send.sh http://localhost:8080/webhooks body.json
#
# It prints the receiver's status code.
set -euo pipefail
url=$1 body=$2
id=msg_$(openssl rand -hex 12)
ts=$(date +%s)

# openssl wants the HMAC key in hex: the secret after whsec_, base64-decoded.
key=$(printf '%s' "${WEBHOOK_SECRET#whsec_}" | openssl base64 -d -A | od -An -vtx1 | tr -d ' \n')
sig=$({ printf '%s.%s.' "$id" "$ts"; cat "$body"; } |
	openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key" -binary | openssl base64 -A)

curl -sS -o /dev/null -w '%{http_code}\n' -X POST "$url" \
	-H 'Content-Type: application/json' \
	-H "webhook-id: $id" \
	-H "webhook-timestamp: $ts" \
	-H "webhook-signature: v1,$sig" \
	--data-binary "@$body"
