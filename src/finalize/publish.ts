/**
 * Atomic publish: one short transaction in which the loaded rows become the target's, so that no
 * reader ever sees part of a load.
 *
 * - insert: INSERT ... SELECT from the stage into the target (append, or replace with --truncate).
 * - swap: the durable, indexed stage takes the target's name; everything that hung on the old table
 *   (constraints, triggers, owner, grants, comments, options, sequence ownership, dependent views and
 *   foreign keys) is carried over, and the old table is dropped with RESTRICT, so anything we did not
 *   carry over makes the transaction fail and roll back rather than vanish silently.
 */
import type pg from 'pg';
import type { TargetFacts } from '../plan/catalog.ts';
import { PloaderError, serverFields, throwIfAborted } from '../errors.ts';
import { qualified, quoteIdent, quoteLiteral, type QualifiedName } from '../db/sql.ts';
import { dropStageSql, stageIndexName } from '../stage/stage.ts';
import { runsHeldBy } from '../copy/run-identity.ts';
import { describeBlockers, lockTables, type LockWait } from '../db/lock-wait.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import type { RunSessions } from '../stage/run-sessions.ts';
import { publishCreated } from './publish-create.ts';
import { readTableSignature, signatureDifferences } from './table-signature.ts';
import type { Upsert } from '../rows/conflicts.ts';

export interface PublishResult {
  method: 'swap' | 'insert' | 'create';
  rows: number;
  note?: string;
}

/**
 * Publishes the stage as the plan says, in the main session's fence transaction, and commits. A cancel
 * (Ctrl-C, the AbortSignal) that came before the COMMIT rolls everything back instead.
 */
export async function publish(sessions: RunSessions, plan: LoadPlan, stageRows: number): Promise<PublishResult> {
  const result =
    plan.strategy.publish === 'create'
      ? await publishCreated(sessions.main, plan).then((): PublishResult => ({ method: 'create', rows: stageRows }))
      : plan.strategy.publish === 'swap'
        ? await publishBySwap(sessions, plan, stageRows)
        : await publishByInsert(sessions, plan);
  throwIfAborted(plan.options.signal);
  await sessions.commit();
  return result;
}

async function publishByInsert(sessions: RunSessions, plan: LoadPlan, note?: string): Promise<PublishResult> {
  const { target, stage, ledger } = plan;
  const client = sessions.main;
  // The fence already holds ROW EXCLUSIVE, the lock an INSERT needs; TRUNCATE needs the table to itself.
  if (plan.strategy.truncate) {
    const otherRun = await lockForPublish(sessions, plan, [qualified(target.table)]);
    // Two runs replacing one table would each wait for the other's fence: this one steps back.
    if (otherRun) throw replacedConcurrently(otherRun);
    await client.query(`TRUNCATE ${qualified(target.table)}`);
  }
  const rows = await insertFromStage(client, target, stage, plan.conflicts.upsert);
  await client.query(dropStageSql(stage));
  await client.query(dropStageSql(ledger));
  return { method: 'insert', rows, note };
}

/**
 * Takes the publish's ACCESS EXCLUSIVE lock in short attempts (db/lock-wait.ts), saying who holds it
 * up. Another ploader run's fence (its main session's ROW EXCLUSIVE) would hold it up until that run
 * publishes, and that run may be waiting for ours: so when the blockers include another run, the wait
 * stops at once and this returns that run's id (the caller publishes without the lock, or gives up).
 */
async function lockForPublish(sessions: RunSessions, plan: LoadPlan, tables: readonly string[]): Promise<string | undefined> {
  const { options } = plan;
  const onWait = (wait: LockWait) => options.onProgress({ kind: 'phase', phase: 'waiting', detail: `publish: waiting ${Math.round(wait.waitedMs / 1000)} s for ${wait.tables.join(', ')}, held by ${describeBlockers(wait.blockers)}` });
  let otherRun: string | undefined;
  const giveWay = async (wait: LockWait) => {
    [otherRun] = (await runsHeldBy(sessions.admin, wait.blockers.map((b) => b.pid))).filter((id) => id !== plan.runId);
    // Replacing, only one of two runs may step back (it fails): the one with the greater run id.
    return otherRun !== undefined && (!plan.strategy.truncate || otherRun < plan.runId);
  };
  try {
    const locked = await lockTables(sessions.main, sessions.admin, { tables, mode: 'ACCESS EXCLUSIVE', waitMs: options.lockWaitMs, signal: options.signal, onWait, giveWay });
    return locked ? undefined : otherRun;
  } catch (error) {
    if (error instanceof PloaderError && error.code === 'LOCK_TIMEOUT') {
      throw new PloaderError('LOCK_TIMEOUT', `${error.message}; nothing was published, and the loaded stage is kept: ploader --resume publishes it later`, { cause: error });
    }
    throw error;
  }
}

/**
 * With `upsert`, a row whose key is already in the target updates that row's loaded columns (its
 * serial id and other defaults stay); the stage holds one row per key by then, so none is updated twice.
 */
async function insertFromStage(client: pg.Client, target: TargetFacts, stage: QualifiedName, upsert?: Upsert): Promise<number> {
  // Stored generated columns cannot be inserted into: the target computes them again, as COPY would.
  const columns = target.columns.filter((c) => c.generated === '').map((c) => quoteIdent(c.name)).join(', ');
  const onConflict = upsert
    ? ` ON CONFLICT (${upsert.key.map(quoteIdent).join(', ')}) DO ${upsert.update.length ? `UPDATE SET ${upsert.update.map((n) => `${quoteIdent(n)} = EXCLUDED.${quoteIdent(n)}`).join(', ')}` : 'NOTHING'}`
    : '';
  // OVERRIDING SYSTEM VALUE keeps the ids the stage drew from the target's identity sequence.
  const result = await client.query(
    `INSERT INTO ${qualified(target.table)} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM ${qualified(stage)}${onConflict}`,
  );
  return result.rowCount ?? 0;
}

/**
 * Publishes by swap when the result is provably the same table: the swap runs in a savepoint, and is
 * kept only if the swapped-in table's catalog signature equals the target's (table-signature.ts);
 * otherwise, or if the target gained rows meanwhile, or if anything blocks the swap, the savepoint is
 * rolled back and the rows are inserted instead (same transaction semantics). `stageRows` is what the
 * workers' COPYs counted (no count(*) under the lock).
 */
async function publishBySwap(sessions: RunSessions, plan: LoadPlan, stageRows: number): Promise<PublishResult> {
  const { target, ledger } = plan;
  const client = sessions.main;
  // Dependent views are locked before the table, the order in which their readers lock them: a
  // reader of a view that waits for the table can then never hold the view against the swap.
  const views = await dependentViews(client, target.oid);
  const otherRun = await lockForPublish(sessions, plan, [...views, qualified(target.table)]);
  if (otherRun) {
    // Our fence's ROW EXCLUSIVE is all an INSERT needs; the other run then finds rows and inserts too.
    if (plan.strategy.truncate) throw replacedConcurrently(otherRun);
    return insertInstead(sessions, plan, `another ploader (run ${otherRun}) is loading into this table too, so it cannot be swapped`);
  }
  if (!plan.strategy.truncate) {
    const { rows } = await client.query(`SELECT EXISTS (SELECT 1 FROM ${qualified(target.table)}) AS has_rows`);
    if (rows[0].has_rows) return insertInstead(sessions, plan, 'the target gained rows during the load: appended instead of swapped');
  }
  await client.query('SAVEPOINT ploader_swap');
  let differences: string[];
  try {
    // Empty search_path: every name the catalog functions print below is schema-qualified.
    await client.query("SET LOCAL search_path = ''");
    const before = await readTableSignature(client, target.oid);
    const carried = await captureDependents(client, target);
    await swap(client, plan, carried);
    const { rows: [swapped] } = await client.query<{ oid: number }>('SELECT $1::regclass::oid AS oid', [qualified(target.table)]);
    differences = signatureDifferences(before, await readTableSignature(client, swapped.oid));
  } catch (error) {
    const fields = serverFields(error);
    if (!fields) throw error;
    await client.query('ROLLBACK TO SAVEPOINT ploader_swap');
    return insertInstead(sessions, plan, `the swap could not be done (${(error as Error).message}${fields.detail ? `: ${fields.detail}` : ''})`);
  }
  if (differences.length > 0) {
    await client.query('ROLLBACK TO SAVEPOINT ploader_swap');
    return insertInstead(sessions, plan, `a swap would have changed the table (${differences.join('; ')})`);
  }
  await client.query('RELEASE SAVEPOINT ploader_swap');
  await client.query(dropStageSql(ledger));
  return { method: 'swap', rows: stageRows };
}

/** The swap is not the same as a load into the target: insert the rows, or, with --publish swap, refuse. */
async function insertInstead(sessions: RunSessions, plan: LoadPlan, why: string): Promise<PublishResult> {
  if (plan.options.publish === 'swap') {
    throw new PloaderError('TARGET_INVALID', `--publish swap: ${why}; nothing was published — drop --publish swap to let ploader insert the rows instead`);
  }
  await sessions.main.query('RESET search_path');
  return publishByInsert(sessions, plan, `${why}: published by INSERT ... SELECT instead`);
}

function replacedConcurrently(otherRun: string): PloaderError {
  return new PloaderError(
    'LOCK_TIMEOUT',
    `another ploader (run ${otherRun}) is replacing this table at the same time, and one of the two must wait for the other: nothing was published, and the loaded stage is kept — ploader --resume publishes it once that run is done`,
  );
}

async function dependentViews(client: pg.Client, oid: number): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(v.relname) AS name
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class JOIN pg_namespace n ON n.oid = v.relnamespace
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.oid <> $1 ORDER BY 1`,
    [oid],
  );
  return rows.map((r) => r.name);
}

interface Dependents {
  views: Array<{ name: string; definition: string; options: string[] | null }>;
  triggers: Array<{ definition: string; name: string; enabled: string }>;
  referencingForeignKeys: Array<{ table: string; name: string; definition: string; self: boolean }>;
  ownedSequences: Array<{ sequence: string; column: string }>;
  exclusionConstraints: Array<{ name: string; definition: string }>;
  table: { comment: string | null; acl: AclEntry[]; hasAcl: boolean; options: string[] | null; replident: string; rls: boolean; forceRls: boolean };
  columnAcls: Array<AclEntry & { column: string }>;
  indexComments: Array<{ name: string; comment: string }>;
  clusteredIndex: string | null;
  /** Per-column settings LIKE does not copy: statistics targets and attribute options (n_distinct ...). */
  columnSettings: Array<{ column: string; statistics: number | null; options: string[] | null }>;
  /** Statistics targets set on index columns (expression indexes). */
  indexColumnStatistics: Array<{ index: string; column: number; statistics: number }>;
  replicaIdentityIndex: string | null;
}

interface AclEntry {
  grantee: string | null;
  privilege: string;
  grantable: boolean;
}

async function captureDependents(client: pg.Client, target: TargetFacts): Promise<Dependents> {
  const oid = target.oid;
  const q = async <T extends pg.QueryResultRow>(sql: string): Promise<T[]> => (await client.query<T>(sql, [oid])).rows;
  const views = await q<{ name: string; definition: string; options: string[] | null }>(
    `SELECT DISTINCT v.oid::regclass::text AS name, pg_get_viewdef(v.oid) AS definition, v.reloptions AS options
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND v.relkind = 'v' AND v.oid <> $1`,
  );
  const triggers = await q<{ definition: string; name: string; enabled: string }>(
    `SELECT pg_get_triggerdef(oid) AS definition, tgname AS name, tgenabled::text AS enabled
       FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal ORDER BY tgname`,
  );
  const referencingForeignKeys = await q<{ table: string; name: string; definition: string; self: boolean }>(
    `SELECT conrelid::regclass::text AS table, conname AS name, pg_get_constraintdef(oid) AS definition, conrelid = $1 AS self
       FROM pg_constraint WHERE confrelid = $1 AND contype = 'f' ORDER BY conname`,
  );
  const ownedSequences = await q<{ sequence: string; column: string }>(
    `SELECT s.oid::regclass::text AS sequence, a.attname AS column
       FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
       JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
      WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1 AND d.deptype = 'a'`,
  );
  const exclusionConstraints = await q<{ name: string; definition: string }>(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = $1 AND contype = 'x'`,
  );
  const [table] = await q<{ comment: string | null; acl: string | null; options: string[] | null; replident: string; rls: boolean; force_rls: boolean }>(
    `SELECT obj_description(oid, 'pg_class') AS comment, relacl::text AS acl, reloptions AS options,
            relreplident::text AS replident, relrowsecurity AS rls, relforcerowsecurity AS force_rls FROM pg_class WHERE oid = $1`,
  );
  const acl = await q<AclEntry>(
    `SELECT CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END AS grantee, e.privilege_type AS privilege, e.is_grantable AS grantable
       FROM pg_class c, aclexplode(c.relacl) e WHERE c.oid = $1`,
  );
  const columnAcls = await q<AclEntry & { column: string }>(
    `SELECT a.attname AS column, CASE WHEN e.grantee = 0 THEN NULL ELSE pg_get_userbyid(e.grantee) END AS grantee,
            e.privilege_type AS privilege, e.is_grantable AS grantable
       FROM pg_attribute a, aclexplode(a.attacl) e WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
  );
  const indexComments = await q<{ name: string; comment: string }>(
    `SELECT ic.relname AS name, obj_description(i.indexrelid, 'pg_class') AS comment
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = $1 AND obj_description(i.indexrelid, 'pg_class') IS NOT NULL`,
  );
  const [clustered] = await q<{ name: string }>(
    `SELECT ic.relname AS name FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1 AND i.indisclustered`,
  );
  const [replicaIdentity] = await q<{ name: string }>(
    `SELECT ic.relname AS name FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1 AND i.indisreplident`,
  );
  return {
    views,
    triggers,
    referencingForeignKeys,
    ownedSequences,
    exclusionConstraints,
    table: {
      comment: table.comment,
      acl,
      hasAcl: table.acl !== null,
      options: table.options,
      replident: table.replident,
      rls: table.rls,
      forceRls: table.force_rls,
    },
    columnAcls,
    indexComments,
    clusteredIndex: clustered?.name ?? null,
    // attstattarget: -1 is the default before PostgreSQL 17, NULL from 17 on.
    columnSettings: await q<{ column: string; statistics: number | null; options: string[] | null }>(
      `SELECT attname AS column, CASE WHEN attstattarget >= 0 THEN attstattarget END AS statistics, attoptions AS options
         FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND (attstattarget >= 0 OR attoptions IS NOT NULL)`,
    ),
    indexColumnStatistics: await q<{ index: string; column: number; statistics: number }>(
      `SELECT ic.relname AS index, a.attnum AS column, a.attstattarget AS statistics
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_attribute a ON a.attrelid = ic.oid
        WHERE i.indrelid = $1 AND a.attstattarget >= 0`,
    ),
    replicaIdentityIndex: replicaIdentity?.name ?? null,
  };
}

async function swap(client: pg.Client, plan: LoadPlan, carried: Dependents): Promise<void> {
  const { target, stage, runId } = plan;
  const run = (sql: string) => client.query(sql);
  const old: QualifiedName = { schema: target.table.schema, name: `ploader_old_${runId}` };
  const t = qualified(target.table);

  for (const fk of carried.referencingForeignKeys.filter((f) => !f.self)) {
    await run(`ALTER TABLE ${fk.table} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  await run(`ALTER TABLE ${t} RENAME TO ${quoteIdent(old.name)}`);
  await run(`ALTER TABLE ${qualified(stage)} RENAME TO ${quoteIdent(target.table.name)}`);

  // The definitions were printed with the target's name; run again they bind to the new table.
  for (const view of carried.views) {
    const withOptions = view.options?.length ? ` WITH (${view.options.join(', ')})` : '';
    await run(`CREATE OR REPLACE VIEW ${view.name}${withOptions} AS ${view.definition.replace(/;\s*$/, '')}`);
  }
  for (const trigger of carried.triggers) {
    await run(trigger.definition);
    const enable = { D: 'DISABLE TRIGGER', R: 'ENABLE REPLICA TRIGGER', A: 'ENABLE ALWAYS TRIGGER' }[trigger.enabled];
    if (enable) await run(`ALTER TABLE ${t} ${enable} ${quoteIdent(trigger.name)}`);
  }
  for (const { sequence, column } of carried.ownedSequences) {
    await run(`ALTER SEQUENCE ${sequence} OWNED BY ${t}.${quoteIdent(column)}`);
  }

  await run(`DROP TABLE ${qualified(old)} RESTRICT`);

  // The old indexes are gone with the old table: their names are free for the stage's indexes.
  for (const [position, index] of target.indexes.entries()) {
    const temp = qualified({ schema: target.table.schema, name: stageIndexName(runId, position) });
    if (index.constraintType === 'p' || index.constraintType === 'u') {
      const kind = index.constraintType === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
      // Takes the index over and renames it to the constraint's name (the original index name).
      await run(`ALTER TABLE ${t} ADD CONSTRAINT ${quoteIdent(index.constraintName!)} ${kind} USING INDEX ${quoteIdent(stageIndexName(runId, position))}`);
      if (index.constraintName !== index.name) {
        await run(`ALTER INDEX ${qualified({ schema: target.table.schema, name: index.constraintName! })} RENAME TO ${quoteIdent(index.name)}`);
      }
    } else if (index.constraintType !== 'x') {
      await run(`ALTER INDEX ${temp} RENAME TO ${quoteIdent(index.name)}`);
    }
  }
  for (const constraint of carried.exclusionConstraints) {
    await run(`ALTER TABLE ${t} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.definition}`);
  }
  for (const fk of carried.referencingForeignKeys) {
    await run(`ALTER TABLE ${fk.self ? t : fk.table} ADD CONSTRAINT ${quoteIdent(fk.name)} ${fk.definition}`);
  }
  for (const { name, comment } of carried.indexComments) {
    await run(`COMMENT ON INDEX ${qualified({ schema: target.table.schema, name })} IS ${quoteLiteral(comment)}`);
  }
  if (carried.clusteredIndex) await run(`ALTER TABLE ${t} CLUSTER ON ${quoteIdent(carried.clusteredIndex)}`);
  for (const { column, statistics, options } of carried.columnSettings) {
    if (statistics !== null) await run(`ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(column)} SET STATISTICS ${Math.trunc(statistics)}`);
    if (options?.length) await run(`ALTER TABLE ${t} ALTER COLUMN ${quoteIdent(column)} SET (${options.join(', ')})`);
  }
  for (const { index, column, statistics } of carried.indexColumnStatistics) {
    await run(`ALTER INDEX ${qualified({ schema: target.table.schema, name: index })} ALTER COLUMN ${Math.trunc(column)} SET STATISTICS ${Math.trunc(statistics)}`);
  }

  await run(`COMMENT ON TABLE ${t} IS ${carried.table.comment === null ? 'NULL' : quoteLiteral(carried.table.comment)}`);
  if (carried.table.options?.length) await run(`ALTER TABLE ${t} SET (${carried.table.options.join(', ')})`);
  const replicaIdentity = { n: 'NOTHING', f: 'FULL' }[carried.table.replident];
  if (replicaIdentity) await run(`ALTER TABLE ${t} REPLICA IDENTITY ${replicaIdentity}`);
  if (carried.replicaIdentityIndex) await run(`ALTER TABLE ${t} REPLICA IDENTITY USING INDEX ${quoteIdent(carried.replicaIdentityIndex)}`);
  if (carried.table.rls) await run(`ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY`);
  if (carried.table.forceRls) await run(`ALTER TABLE ${t} FORCE ROW LEVEL SECURITY`);
  await run(`ALTER TABLE ${t} OWNER TO ${quoteIdent(target.owner)}`);
  if (carried.table.hasAcl) {
    // The old ACL is replayed exactly: start from none, then grant what it held.
    await run(`REVOKE ALL ON TABLE ${t} FROM PUBLIC, ${quoteIdent(target.owner)}`);
    for (const entry of carried.table.acl) await run(grantSql(entry, `TABLE ${t}`, ''));
  }
  for (const entry of carried.columnAcls) await run(grantSql(entry, `TABLE ${t}`, ` (${quoteIdent(entry.column)})`));
}

function grantSql(entry: AclEntry, object: string, columns: string): string {
  const grantee = entry.grantee === null ? 'PUBLIC' : quoteIdent(entry.grantee);
  return `GRANT ${entry.privilege}${columns} ON ${object} TO ${grantee}${entry.grantable ? ' WITH GRANT OPTION' : ''}`;
}
