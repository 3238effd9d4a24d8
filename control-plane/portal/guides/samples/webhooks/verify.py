"""A Steller webhook receiver that accepts a delivery only when its Standard Webhooks
signature and timestamp check out (the webhooks guide's Python sample).

    WEBHOOK_SECRET=whsec_... PORT=8080 python3 verify.py
"""
import base64
import binascii
import hashlib
import hmac
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60  # seconds webhook-timestamp may be from this machine's clock


def verify(secret, headers, body, now):
    """Return None when one of the "v1,<base64>" signatures in webhook-signature is the
    HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" keyed by the secret, else why not."""
    msg_id = headers.get("webhook-id", "")
    ts = headers.get("webhook-timestamp", "")
    sigs = headers.get("webhook-signature", "")
    if not (msg_id and ts and sigs):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not ts.isascii() or not ts.isdigit():
        return "webhook-timestamp is not a number"
    if abs(now - int(ts)) > TOLERANCE:
        return "webhook-timestamp is more than 5 minutes away"
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        return "the secret is not whsec_ and base64"
    want = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    # During a secret rotation the header holds one signature per secret.
    for part in sigs.split():
        version, _, sig = part.partition(",")
        try:
            got = base64.b64decode(sig, validate=True)
        except binascii.Error:
            continue
        if version == "v1" and hmac.compare_digest(got, want):  # constant time
            return None
    return "no signature matches"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 1 << 20:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        why = verify(os.environ.get("WEBHOOK_SECRET", ""), self.headers, body, time.time())
        if why:
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(f"rejected: {why}\n".encode())
            return
        # Accepted. Process the event once: skip a webhook-id you have already processed.
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Receiver)
    print(f"listening on :{server.server_port}", flush=True)
    server.serve_forever()
