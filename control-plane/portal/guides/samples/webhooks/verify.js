// A Steller webhook receiver that accepts a delivery only when its Standard Webhooks
// signature and timestamp check out (the webhooks guide's Node.js sample).
//
//   WEBHOOK_SECRET=whsec_... PORT=8080 node verify.js
"use strict";
const crypto = require("node:crypto");
const http = require("node:http");

const TOLERANCE = 5 * 60; // seconds webhook-timestamp may be from this machine's clock

// verify returns null when one of the "v1,<base64>" signatures in webhook-signature is the
// HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}" keyed by the secret, else why not.
function verify(secret, headers, body, now) {
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sigs = headers["webhook-signature"];
  if (!id || !ts || !sigs) {
    return "missing webhook-id, webhook-timestamp or webhook-signature";
  }
  if (!/^[0-9]+$/.test(ts)) {
    return "webhook-timestamp is not a number";
  }
  if (Math.abs(now - Number(ts)) > TOLERANCE) {
    return "webhook-timestamp is more than 5 minutes away";
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const want = crypto.createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
  // During a secret rotation the header holds one signature per secret.
  for (const part of sigs.split(" ")) {
    const [version, sig = ""] = part.split(",");
    const got = Buffer.from(sig, "base64");
    if (version === "v1" && got.length === want.length && crypto.timingSafeEqual(got, want)) {
      return null; // constant time
    }
  }
  return "no signature matches";
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > 1 << 20) {
      res.writeHead(413).end();
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    const why = verify(process.env.WEBHOOK_SECRET || "", req.headers, Buffer.concat(chunks), Date.now() / 1000);
    if (why) {
      res.writeHead(401, { "Content-Type": "text/plain" }).end(`rejected: ${why}\n`);
      return;
    }
    // Accepted. Process the event once: skip a webhook-id you have already processed.
    res.writeHead(204).end();
  });
});
server.listen(Number(process.env.PORT || 8080), () => {
  console.log(`listening on :${server.address().port}`);
});
