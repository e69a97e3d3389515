/**
 * The staging table's lifecycle: created in the target's schema, shaped like the target, UNLOGGED,
 * and recognisable as a ploader leftover by its name and comment.
 */
import type { IndexFacts, TargetFacts } from '../plan/catalog.ts';
import { qualified, quoteIdent, quoteLiteral, type QualifiedName } from '../db/sql.ts';

export const STAGE_COMMENT_PREFIX = 'ploader stage';

/**
 * LIKE copies column types, NOT NULL, defaults (so a serial column draws from the target's own
 * sequence, and ids are those one COPY would give), CHECK constraints, generated columns, storage,
 * compression and column comments. Not indexes: those are built after the data is in.
 * Identity columns become plain columns whose default is the target's identity sequence.
 */
export function createStageSql(target: TargetFacts, stage: QualifiedName, runId: string, logged = false): string[] {
  // In the target's tablespace: a swapped-in stage must live where the target did (and fill the same disk).
  const tablespace = target.tablespace === null ? '' : ` TABLESPACE ${quoteIdent(target.tablespace)}`;
  const statements = [
    `CREATE ${logged ? '' : 'UNLOGGED '}TABLE ${qualified(stage)} (LIKE ${qualified(target.table)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)${tablespace}`,
  ];
  for (const column of target.columns) {
    if (column.identity && column.identitySequence) {
      statements.push(
        `ALTER TABLE ${qualified(stage)} ALTER COLUMN ${quoteIdent(column.name)} SET DEFAULT nextval(${quoteLiteral(column.identitySequence)}::regclass)`,
      );
    }
  }
  statements.push(stageCommentSql(stage, runId, `${qualified(target.table)} (oid ${target.oid})`));
  return statements;
}

/** Marks a stage as ploader's, for whoever finds it; `forWhat` names its target. */
export function stageCommentSql(stage: QualifiedName, runId: string, forWhat: string): string {
  return `COMMENT ON TABLE ${qualified(stage)} IS ${quoteLiteral(`${STAGE_COMMENT_PREFIX} run ${runId} for ${forWhat}; safe to drop when no ploader is running`)}`;
}

export function dropStageSql(stage: QualifiedName): string {
  return `DROP TABLE IF EXISTS ${qualified(stage)}`;
}

/** The stage's temporary name for one of the target's indexes; renamed to the original at publish. */
export function stageIndexName(runId: string, position: number): string {
  return `ploader_${runId}_idx${position}`;
}

/**
 * The target's index rebuilt on the stage under a temporary name (see IndexFacts.usingClause).
 * IF NOT EXISTS: a resumed run may find some of its indexes already built.
 */
export function stageIndexSql(index: IndexFacts, stage: QualifiedName, tempName: string): string {
  const head = `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX IF NOT EXISTS ${quoteIdent(tempName)} ON ${qualified(stage)} `;
  if (index.tablespace === null) return head + index.usingClause;
  // pg_get_indexdef leaves the tablespace out, and TABLESPACE goes before a partial index's WHERE (whose
  // predicate cannot hold a subquery, so the last " WHERE " is its own; a wrong cut fails the build loudly).
  const cut = index.usingClause.lastIndexOf(' WHERE ');
  const [using, where] = cut < 0 ? [index.usingClause, ''] : [index.usingClause.slice(0, cut), index.usingClause.slice(cut)];
  return `${head}${using} TABLESPACE ${quoteIdent(index.tablespace)}${where}`;
}

/** `ploader_<target>_<runid>`, recognisable as ours and within PostgreSQL's 63-byte identifier limit. */
export function stagingTableName(target: string, runId: string): string {
  // 8 + 32 + 1 + 8 bytes, and the ledger's `_chunks` after it, stay within 63.
  const readable = target.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, 32);
  return `ploader_${readable}_${runId}`;
}
