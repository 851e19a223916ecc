// Minimal single-process HTTP front for better-auth's API-key verification.
//   GET /check  with  x-api-key: <key>   or   Authorization: Bearer <key>
//   -> 200 {"valid":true,"id":"..."}  |  401 {"valid":false}
// Listens on 127.0.0.1:$PORT (default 18101); prints "ready" once listening.
import http from "node:http";
import { makeAuth, pool } from "./auth.mjs";

const PORT = Number(process.env.PORT ?? 18101);
const auth = makeAuth({ quiet: process.env.BA_LOG !== "1" });
await auth.$context; // finish async init (adapter, plugin setup) before accepting traffic

const J401 = '{"valid":false}';

function extractKey(req) {
  const h = req.headers["x-api-key"];
  if (typeof h === "string" && h.length > 0) return h;
  const a = req.headers["authorization"];
  if (typeof a === "string" && a.length > 7 && a.slice(0, 7).toLowerCase() === "bearer ") return a.slice(7).trim();
  return null;
}

function send(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const path = req.url.split("?", 1)[0];
  if (req.method !== "GET" || path !== "/check") return send(res, 404, '{"error":"not found"}');
  const key = extractKey(req);
  if (!key) return send(res, 401, J401);
  try {
    // Plugin verification API (server-only endpoint POST /api-key/verify, called in-process).
    const r = await auth.api.verifyApiKey({ body: { key } });
    if (r?.valid) return send(res, 200, `{"valid":true,"id":${JSON.stringify(r.key?.id ?? null)}}`);
    return send(res, 401, J401);
  } catch (e) {
    if (process.env.BA_LOG === "1") console.error(e);
    return send(res, 500, '{"error":"internal"}');
  }
});
server.keepAliveTimeout = 65_000;
server.listen(PORT, "127.0.0.1", () => console.log("ready"));

function shutdown() {
  server.close();
  server.closeAllConnections();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
