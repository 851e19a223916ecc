// Usage: node count-queries.mjs KEYFILE
// Diagnostic: logs every SQL statement better-auth sends to PostgreSQL during ONE
// auth.api.verifyApiKey call (after a warm-up call), for a valid and an invalid key.
import { readFileSync } from "node:fs";
import pg from "pg";
import { makeAuth, pool } from "./auth.mjs";

const key = readFileSync(process.argv[2] ?? "/dev/stdin", "utf8").trim();
let log = null;
const orig = pg.Client.prototype.query;
pg.Client.prototype.query = function (q, ...rest) {
  if (log) log.push(typeof q === "string" ? q : q?.text);
  return orig.call(this, q, ...rest);
};

const auth = makeAuth({ quiet: true });
try {
  await auth.api.verifyApiKey({ body: { key } }); // warm-up (schema check etc.)
  for (const [label, k] of [["valid key", key], ["invalid key", key.slice(0, -1) + (key.endsWith("X") ? "Y" : "X")]]) {
    log = [];
    const r = await auth.api.verifyApiKey({ body: { key: k } });
    const stmts = log;
    log = null;
    console.log(`${label}: valid=${r.valid}, ${stmts.length} SQL statement(s)`);
    for (const s of stmts) console.log("   ", s);
  }
} finally {
  await pool.end();
}
