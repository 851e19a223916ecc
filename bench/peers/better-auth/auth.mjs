// Shared better-auth instance used by migrate.mjs, make-keys.mjs and server.mjs.
// better-auth 1.7.5 + @better-auth/api-key 1.7.5, PostgreSQL via `pg` Pool
// (better-auth wraps it in its built-in Kysely adapter).
import { betterAuth } from "better-auth";
import { apiKey } from "@better-auth/api-key";
import pg from "pg";

export const DATABASE_URL =
  process.env.DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/keyward_bench_better_auth";

// pg's default pool size is 10; made explicit so the benchmark config is visible.
export const PG_POOL_MAX = Number(process.env.PG_POOL_MAX ?? 10);

export const pool = new pg.Pool({ connectionString: DATABASE_URL, max: PG_POOL_MAX });

export function makeAuth({ quiet = false, validateSchema = true } = {}) {
  return betterAuth({
    // Fixed, non-secret value: this is a local benchmark only.
    secret: process.env.BETTER_AUTH_SECRET ?? "keyward-bench-only-not-a-secret-0123456789abcdef",
    baseURL: "http://127.0.0.1",
    database: pool,
    // better-auth's own HTTP-router rate limiter (does not apply to auth.api.* calls,
    // disabled anyway so it can never interfere).
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    // 1.7.5 checks the DB schema once at startup (cached afterwards; api calls await it).
    // migrate.mjs turns it off because the tables do not exist yet at that point.
    advanced: { database: { validateSchema } },
    // The plugin logs every failed verification at `error` level; silence that in the
    // server so an invalid-key benchmark would not measure console I/O.
    logger: quiet ? { disabled: true } : undefined,
    plugins: [
      apiKey({
        // Default storage: "database" (PostgreSQL table "apikey"), no secondary storage/cache.
        // Disable the plugin's per-key rate limiting so we measure verification, not throttling.
        // (Keys are created with rateLimitEnabled=false; maxRequests stays a small int32.)
        rateLimit: { enabled: false, maxRequests: 1_000_000_000, timeWindow: 1000 },
      }),
    ],
  });
}
