/**
 * What the plan needs to know about the server and the target table, read from the catalog once
 * before anything is written.
 */
import type pg from 'pg';
import { PloaderError, serverFields } from '../errors.ts';
import { quoteIdent, qualified, type QualifiedName } from '../db/sql.ts';

export interface ColumnFacts {
  name: string;
  /** 'a' / 'd' for identity columns (ALWAYS / BY DEFAULT), '' otherwise. */
  identity: string;
  /** 's' for stored generated columns, '' otherwise. */
  generated: string;
  /** The identity column's sequence, qualified and quoted, for the stage's default. */
  identitySequence: string | null;
  /** A value is filled in when the column is left out: a DEFAULT (serial's nextval too), identity, or a domain's default. */
  hasDefault: boolean;
  notNull: boolean;
  /** The column's type as SQL spells it, with its modifier (format_type): `character varying(20)`. */
  type: string;
  /** The column's default expression as the server prints it (pg_get_expr), if it has one. */
  defaultExpr: string | null;
  /**
   * The sequence that fills the column when the file does not: an identity column's, or the one a
   * default of exactly `nextval('seq')` draws from (serial, bigserial, hand-made). Null otherwise.
   */
  sequence: SequenceFacts | null;
}

export interface SequenceFacts {
  name: QualifiedName;
  /** INCREMENT BY, as a decimal string (bigint range). */
  increment: string;
  /** The current role owns it (or is a member of its owner): it may ALTER it, which is how ids are reserved. */
  isOwner: boolean;
  cycle: boolean;
}

export interface IndexFacts {
  name: string;
  /** pg_get_indexdef(): `CREATE [UNIQUE] INDEX name ON schema.table USING ...`. */
  definition: string;
  unique: boolean;
  /** The definition from ` USING` on: method, keys, INCLUDE, WITH, WHERE. */
  usingClause: string;
  /** Key columns in order, or null for an expression or partial index. */
  keyColumns: string[] | null;
  /** The constraint the index backs (PRIMARY KEY / UNIQUE / EXCLUDE), if any. */
  constraintName: string | null;
  constraintType: 'p' | 'u' | 'x' | null;
  /** Its tablespace when not the database's default (pg_get_indexdef leaves it out). */
  tablespace: string | null;
}

export interface ServerFacts {
  versionNum: number;
  /** lc_messages: ploader reads one server message (ON_ERROR ignore's NOTICE) and only in English. */
  lcMessages: string;
  /** The role may create temporary tables (and sequences) in this database: the option check's and the probe's twins, and the stage's per-session counters, need it. */
  tempAllowed: boolean;
  walLevel: 'minimal' | 'replica' | 'logical';
  maxParallelMaintenanceWorkers: number;
}

export interface TargetFacts {
  oid: number;
  table: QualifiedName;
  owner: string;
  isOwner: boolean;
  relkind: string;
  persistence: string;
  /** Its tablespace when not the database's default. */
  tablespace: string | null;
  columns: ColumnFacts[];
  indexes: IndexFacts[];
  /** True also when the role may not SELECT from the target and so cannot know (then it is appended to). */
  hasRows: boolean;
  /** User triggers that fire on INSERT, or on TRUNCATE, in the normal replication role (they must fire as COPY or TRUNCATE fire them). */
  triggers: { onInsert: string[]; onTruncate: string[] };
  /** Why the role cannot make a stage (CREATE on the schema and, for LIKE, SELECT on the target), if it cannot. */
  stageBlocker: string | undefined;
  /** Why the stage cannot simply take the target's place (empty when it can). */
  swapBlockers: string[];
}

/** A table as PostgreSQL resolved a name the user gave (search_path, quoting). */
export interface ResolvedTable {
  oid: number;
  table: QualifiedName;
}

export async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await client.query<{ v: string; wal: string; pmw: string; lc: string; temp: boolean }>(
    `SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS wal, current_setting('max_parallel_maintenance_workers') AS pmw,
            current_setting('lc_messages') AS lc, has_database_privilege(current_database(), 'TEMP') AS temp`,
  );
  return {
    versionNum: Number(rows[0].v),
    lcMessages: rows[0].lc,
    tempAllowed: rows[0].temp,
    walLevel: rows[0].wal as ServerFacts['walLevel'],
    maxParallelMaintenanceWorkers: Number(rows[0].pmw),
  };
}

/** Resolves `name` as PostgreSQL resolves a table name (search_path, quoting). */
export async function resolveTargetName(client: pg.Client, name: string): Promise<ResolvedTable> {
  const oid = await resolveTable(client, name);
  const { rows: [rel] } = await client.query<{ schema: string; name: string; relkind: string; owner: string; can_insert: boolean }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind, pg_get_userbyid(c.relowner) AS owner,
            has_table_privilege(c.oid, 'INSERT') AS can_insert
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  checkLoadable(name, rel);
  return { oid, table: { schema: rel.schema, name: rel.name } };
}

/** What one COPY FROM needs of its target: a table, and INSERT on it. */
function checkLoadable(name: string, rel: { relkind: string; owner: string; can_insert: boolean }): void {
  if (rel.relkind !== 'r' && rel.relkind !== 'p') {
    throw new PloaderError('TARGET_INVALID', `${name} is not a table (relkind ${rel.relkind}); ploader loads into tables`);
  }
  if (!rel.can_insert) {
    throw new PloaderError('TARGET_INVALID', `permission denied: the current user may not INSERT into ${name} — ask its owner (${rel.owner}) to GRANT INSERT`);
  }
}

/** The facts of a resolved target; read under the run's DDL fence, so they hold until publish. */
export async function readTargetFacts(client: pg.Client, resolved: ResolvedTable): Promise<TargetFacts> {
  const { oid } = resolved;
  const name = qualified(resolved.table);
  const { rows: [rel] } = await client.query<{
    schema: string; name: string; owner: string; is_owner: boolean; relkind: string; persistence: string; can_insert: boolean;
    can_select: boolean; can_create: boolean; rls_active: boolean; tablespace: string | null;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS is_owner, c.relkind::text AS relkind,
            c.relpersistence::text AS persistence, has_table_privilege(c.oid, 'INSERT') AS can_insert,
            has_table_privilege(c.oid, 'SELECT') AS can_select, has_schema_privilege(n.oid, 'CREATE') AS can_create,
            row_security_active(c.oid) AS rls_active, t.spcname AS tablespace
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
      WHERE c.oid = $1`,
    [oid],
  );
  checkLoadable(name, rel);
  if (rel.rls_active) {
    // As one COPY: "COPY FROM not supported with row-level security". A policy also hides rows, so the
    // target could not even be judged empty.
    throw new PloaderError(
      'TARGET_INVALID',
      `row-level security applies to the current user on ${name}, and COPY FROM refuses such a table (so does ploader) — load as a role that bypasses it (the owner, unless FORCE ROW LEVEL SECURITY is set, or a role with BYPASSRLS), or use INSERT statements`,
    );
  }
  const table = { schema: rel.schema, name: rel.name };
  // What an INSERT or COPY that leaves a column out puts there (build_column_default): the column's
  // DEFAULT (atthasdef; a stored generated column has one too, but is no default), an identity
  // column's sequence, or else its domain type's DEFAULT.
  const { rows: columns } = await client.query<{
    name: string; type: string; identity: string; generated: string; seq: string | null; has_default: boolean; not_null: boolean; default_expr: string | null;
    seq_schema: string | null; seq_name: string | null; seq_increment: string | null; seq_owner: boolean | null; seq_cycle: boolean | null;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity::text AS identity, a.attgenerated::text AS generated,
            CASE WHEN a.attidentity <> '' THEN pg_get_serial_sequence($2, a.attname) END AS seq,
            (a.atthasdef AND a.attgenerated = '') OR a.attidentity <> '' OR (t.typtype = 'd' AND t.typdefaultbin IS NOT NULL) AS has_default,
            a.attnotnull AS not_null,
            pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
            sn.nspname AS seq_schema, sc.relname AS seq_name, sq.seqincrement::text AS seq_increment,
            pg_has_role(sc.relowner, 'USAGE') AS seq_owner, sq.seqcycle AS seq_cycle
       FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
       -- the filling sequence: an identity column's, or the one a plain nextval('seq') default depends on
       LEFT JOIN LATERAL (
         SELECT pg_get_serial_sequence($2, a.attname)::regclass::oid AS oid WHERE a.attidentity <> ''
         UNION ALL
         SELECT d.refobjid FROM pg_depend d
          WHERE a.attidentity = '' AND d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
            AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(' || quote_literal(d.refobjid::regclass::text) || '::regclass)'
       ) fill ON true
       LEFT JOIN pg_class sc ON sc.oid = fill.oid AND sc.relkind = 'S'
       LEFT JOIN pg_namespace sn ON sn.oid = sc.relnamespace
       LEFT JOIN pg_sequence sq ON sq.seqrelid = sc.oid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid, qualified(table)],
  );
  const { rows: indexes } = await client.query<{
    name: string; definition: string; prefix: string; unique: boolean; conname: string | null; contype: string | null; key_columns: string[] | null; tablespace: string | null;
  }>(
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS unique,
            -- pg_get_indexdef's fixed head, built with the same quoting and qualification rules it uses
            'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(ic.relname)
              || ' ON ' || CASE WHEN tc.relkind = 'p' THEN 'ONLY ' ELSE '' END || quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || ' ' AS prefix,
            con.conname, con.contype::text AS contype, its.spcname AS tablespace,
            -- plain column keys only: expression and partial indexes get NULL
            CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL THEN
              ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)::text[]
            END AS key_columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       LEFT JOIN pg_tablespace its ON its.oid = ic.reltablespace
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = $1 ORDER BY ic.relname`,
    [oid],
  );
  // One COPY needs no SELECT on the target; without it, the target's rows cannot be seen, so it is appended to.
  const hasRows = rel.can_select
    ? (await client.query<{ has_rows: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualified(table)}) AS has_rows`)).rows[0].has_rows
    : true;
  // tgtype bits (pg_trigger.h): 4 = INSERT, 32 = TRUNCATE; tgenabled 'O' and 'A' fire in the default replication role.
  const { rows: triggers } = await client.query<{ name: string; on_insert: boolean; on_truncate: boolean }>(
    `SELECT tgname AS name, (tgtype & 4) <> 0 AS on_insert, (tgtype & 32) <> 0 AS on_truncate
       FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal AND tgenabled IN ('O', 'A') ORDER BY tgname`,
    [oid],
  );
  return {
    oid,
    table,
    owner: rel.owner,
    isOwner: rel.is_owner,
    relkind: rel.relkind,
    persistence: rel.persistence,
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      identity: c.identity,
      generated: c.generated,
      identitySequence: c.seq,
      hasDefault: c.has_default,
      notNull: c.not_null,
      defaultExpr: c.default_expr,
      sequence:
        c.seq_schema === null || c.seq_name === null
          ? null
          : { name: { schema: c.seq_schema, name: c.seq_name }, increment: c.seq_increment!, isOwner: c.seq_owner === true, cycle: c.seq_cycle === true },
    })),
    indexes: indexes.map((i) => ({
      name: i.name,
      definition: i.definition,
      unique: i.unique,
      usingClause: usingClause(i.definition, i.prefix),
      keyColumns: i.key_columns,
      constraintName: i.conname,
      constraintType: (i.contype as IndexFacts['constraintType']) ?? null,
      tablespace: i.tablespace,
    })),
    tablespace: rel.tablespace,
    hasRows,
    triggers: { onInsert: triggers.filter((t) => t.on_insert).map((t) => t.name), onTruncate: triggers.filter((t) => t.on_truncate).map((t) => t.name) },
    stageBlocker: !rel.can_create
      ? "the current user may not create tables in the target's schema, so there can be no stage"
      : !rel.can_select
        ? 'the current user may not SELECT from the target, which a stage shaped like it (CREATE TABLE ... LIKE) needs'
        : undefined,
    swapBlockers: [
      ...(await findSwapBlockers(client, { oid, relkind: rel.relkind, isOwner: rel.is_owner, columns })),
      ...(await tablespaceBlockers(client, [rel.tablespace, ...indexes.map((i) => i.tablespace)])),
    ],
  };
}

function usingClause(definition: string, prefix: string): string {
  if (!definition.startsWith(prefix) || !definition.slice(prefix.length).startsWith('USING ')) {
    throw new PloaderError('TARGET_INVALID', `cannot read the definition of an index of the target: ${definition}`);
  }
  return definition.slice(prefix.length);
}

async function resolveTable(client: pg.Client, name: string): Promise<number> {
  let oid: number | null;
  try {
    const { rows } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [name]);
    oid = rows[0].oid;
  } catch (error) {
    throw new PloaderError(
      'TARGET_INVALID',
      `${JSON.stringify(name)} is not a valid table name: ${(error as Error).message} — write it as in SQL, e.g. public.votes or "My Table" (with "" for a double quote inside)`,
      { server: serverFields(error), cause: error },
    );
  }
  if (oid === null) {
    throw new PloaderError(
      'TARGET_INVALID',
      `table ${name} does not exist (looked up as PostgreSQL does, with the search_path; quote mixed-case names: "MyTable") — create it first, let ploader make it from the file with --create, or pass --table`,
    );
  }
  return Number(oid);
}

/**
 * Publishing by swap renames the stage into the target's place and carries over what hangs on the
 * target (indexes, constraints, triggers, grants, comments, owner, dependent views and foreign keys).
 * Whatever else depends on the target would be lost or would block the swap, so it is listed here
 * and the load appends with INSERT ... SELECT instead.
 */
async function findSwapBlockers(
  client: pg.Client,
  { oid, relkind, isOwner, columns }: { oid: number; relkind: string; isOwner: boolean; columns: Array<{ name: string; identity: string }> },
): Promise<string[]> {
  const blockers: string[] = [];
  if (relkind === 'p') blockers.push('the target is partitioned');
  if (!isOwner) blockers.push('the current user does not own the target');
  for (const c of columns) if (c.identity) blockers.push(`column ${quoteIdent(c.name)} is an identity column`);
  const { rows } = await client.query<{ blocker: string }>(
    `SELECT 'it has inheritance parents or children' AS blocker
        WHERE EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1 OR inhparent = $1)
     UNION ALL SELECT 'it has row-level security policies' WHERE EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = $1)
     UNION ALL SELECT 'it is in a publication' WHERE EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid = $1)
     UNION ALL SELECT 'it has extended statistics' WHERE EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxrelid = $1)
     UNION ALL SELECT 'it has rules' WHERE EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = $1)
     UNION ALL SELECT 'materialized view ' || v.oid::regclass::text || ' depends on it'
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refobjid = $1 AND d.refclassid = 'pg_class'::regclass AND v.relkind = 'm'
     UNION ALL SELECT 'view ' || v.oid::regclass::text || ' depends on it and is owned by another role'
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refobjid = $1 AND d.refclassid = 'pg_class'::regclass AND v.relkind = 'v' AND NOT pg_has_role(v.relowner, 'USAGE')
     UNION ALL SELECT 'table ' || c.conrelid::regclass::text || ' references it and is owned by another role'
       FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE c.confrelid = $1 AND c.contype = 'f' AND NOT pg_has_role(r.relowner, 'USAGE')
     UNION ALL SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' depends on it'
       FROM pg_depend d JOIN pg_policy p ON d.classid = 'pg_policy'::regclass AND p.oid = d.objid
      WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1 AND p.polrelid <> $1
     UNION ALL SELECT 'its row type is used by ' || pg_describe_object(d.classid, d.objid, d.objsubid)
       FROM pg_depend d JOIN pg_class c ON c.oid = $1
      WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype AND d.deptype = 'n'`,
    [oid],
  );
  return blockers.concat(rows.map((r) => r.blocker));
}

/** A swapped-in stage and its indexes live where the target's did: that needs CREATE on those tablespaces. */
async function tablespaceBlockers(client: pg.Client, tablespaces: ReadonlyArray<string | null>): Promise<string[]> {
  const named = [...new Set(tablespaces.filter((t): t is string => t !== null))];
  if (named.length === 0) return [];
  const { rows } = await client.query<{ name: string }>(
    "SELECT t AS name FROM unnest($1::text[]) t WHERE NOT has_tablespace_privilege(t, 'CREATE')",
    [named],
  );
  return rows.map((r) => `the current user may not create tables in tablespace ${quoteIdent(r.name)}, where the target or its indexes live`);
}
