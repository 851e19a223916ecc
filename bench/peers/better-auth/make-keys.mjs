// Usage: node make-keys.mjs N OUTFILE
// Creates N API keys through the plugin's own server API (auth.api.createApiKey), so they
// are generated and hashed (SHA-256, base64url, unpadded) exactly as better-auth stores them.
// Writes ONE valid plaintext key to OUTFILE.
// Env: FRESH=1     delete the bench user's existing keys first (so the table holds exactly N)
//      ALL_KEYS=path  also write every plaintext key created, one per line, to that path
//      CONCURRENCY  parallel createApiKey calls (default 8)
import { writeFileSync } from "node:fs";
import { makeAuth, pool } from "./auth.mjs";

const [nArg, outFile] = process.argv.slice(2);
const N = Number(nArg);
if (!Number.isInteger(N) || N < 1 || !outFile) {
  console.error("usage: node make-keys.mjs N OUTFILE   (N >= 1)");
  process.exit(2);
}
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 8);
const EMAIL = "bench-owner@keyward.invalid";

const auth = makeAuth();
const t0 = performance.now();
try {
  const ctx = await auth.$context;

  // One user owns all keys. Created through better-auth's internal adapter (no password needed).
  let user = (await ctx.internalAdapter.findUserByEmail(EMAIL))?.user;
  if (!user) {
    user = await ctx.internalAdapter.createUser({ email: EMAIL, name: "bench owner", emailVerified: true });
    console.log(`created user ${user.id}`);
  } else {
    console.log(`reusing user ${user.id}`);
  }

  if (process.env.FRESH === "1") {
    const r = await pool.query('delete from apikey where "referenceId" = $1', [user.id]);
    console.log(`FRESH=1: deleted ${r.rowCount} existing keys`);
  }

  const keys = new Array(N);
  let next = 0;
  async function worker() {
    while (true) {
      const i = next++;
      if (i >= N) return;
      // Server-side call (no headers/request) => userId in body is allowed.
      const res = await auth.api.createApiKey({ body: { userId: user.id, name: `bench-${i}` } });
      if (!res?.key) throw new Error(`createApiKey returned no key: ${JSON.stringify(res)}`);
      keys[i] = res.key;
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, N) }, worker));
  const tCreate = performance.now() - t0;

  // Pick one key, and prove it verifies before handing it out.
  const chosen = keys[Math.floor(N / 2)];
  const v = await auth.api.verifyApiKey({ body: { key: chosen } });
  if (!v?.valid) throw new Error(`freshly created key does not verify: ${JSON.stringify(v)}`);

  writeFileSync(outFile, chosen + "\n");
  if (process.env.ALL_KEYS) writeFileSync(process.env.ALL_KEYS, keys.join("\n") + "\n");

  const { rows } = await pool.query("select count(*)::int as n from apikey");
  console.log(
    `created ${N} keys in ${(tCreate / 1000).toFixed(2)}s (concurrency ${CONCURRENCY}); ` +
      `apikey table now holds ${rows[0].n} rows; wrote 1 key to ${outFile}` +
      (process.env.ALL_KEYS ? ` and all ${N} to ${process.env.ALL_KEYS}` : ""),
  );
} catch (e) {
  console.error("make-keys failed:", e?.stack ?? e);
  process.exitCode = 1;
} finally {
  await pool.end();
}
