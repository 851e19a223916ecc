// Creates/updates better-auth's schema (user, session, account, verification, apikey)
// with the programmatic migrator of better-auth 1.7.5: getMigrations() from "better-auth/db/migration".
import { getMigrations } from "better-auth/db/migration";
import { makeAuth, pool } from "./auth.mjs";

const auth = makeAuth({ validateSchema: false });
try {
  const { toBeCreated, toBeAdded, toBeAddedIndexes, unsafeChanges, schemaProblems, runMigrations } =
    await getMigrations(auth.options);
  if (unsafeChanges?.length) console.error("unsafe changes:", unsafeChanges);
  if (schemaProblems?.length) console.error("schema problems:", schemaProblems);
  console.log(
    `migration plan: create tables [${toBeCreated.map((t) => t.table).join(", ")}], ` +
      `add columns to [${toBeAdded.map((t) => t.table).join(", ")}], ` +
      `add indexes [${toBeAddedIndexes.map((i) => i.name).join(", ")}]`,
  );
  await runMigrations();
  const { rows } = await pool.query(
    "select table_name from information_schema.tables where table_schema='public' order by 1",
  );
  const tables = rows.map((r) => r.table_name);
  console.log("tables now:", tables.join(", "));
  for (const t of ["user", "apikey"]) {
    if (!tables.includes(t)) throw new Error(`table "${t}" missing after migration`);
  }
} catch (e) {
  console.error("migration failed:", e?.stack ?? e);
  process.exitCode = 1;
} finally {
  await pool.end();
}
