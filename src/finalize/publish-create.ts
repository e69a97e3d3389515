/**
 * Publishing a table made by --create: in the main session's transaction the stage, created with the
 * inferred columns and filled by the workers, is renamed to the new table's name, loses its stage
 * comment, and its ledger is dropped; the table appears with its rows at COMMIT, owned by the role
 * that loaded it. If the name was taken meanwhile by anything but a ploader (those wait on the name's
 * claim, plan/create-target.ts), the rename fails and nothing is published.
 */
import type pg from 'pg';
import { qualified, quoteIdent } from '../db/sql.ts';
import { SQLSTATE } from '../db/sqlstate.ts';
import { PloaderError, serverFields } from '../errors.ts';
import type { LoadPlan } from '../plan/load-plan.ts';
import { dropStageSql } from '../stage/stage.ts';

export async function publishCreated(client: pg.Client, plan: Pick<LoadPlan, 'stage' | 'ledger' | 'target'>): Promise<void> {
  const { stage, ledger, target } = plan;
  // In a savepoint: a failed rename then leaves the transaction usable and holding no lock on the stage,
  // which the clean-up drops from another session.
  await client.query('SAVEPOINT ploader_create');
  try {
    await client.query(`ALTER TABLE ${qualified(stage)} RENAME TO ${quoteIdent(target.table.name)}`);
  } catch (error) {
    await client.query('ROLLBACK TO SAVEPOINT ploader_create');
    const sqlstate = serverFields(error)?.sqlstate;
    if (sqlstate !== SQLSTATE.DUPLICATE_TABLE && sqlstate !== SQLSTATE.DUPLICATE_OBJECT) throw error;
    throw new PloaderError(
      'TARGET_INVALID',
      `${qualified(target.table)} was created by another session while ploader loaded the file (${(error as Error).message}), so nothing was published — load again: without --create, or with --create if-missing, the rows go into that table`,
      { server: serverFields(error), cause: error },
    );
  }
  await client.query('RELEASE SAVEPOINT ploader_create');
  await client.query(`COMMENT ON TABLE ${qualified(target.table)} IS NULL`);
  await client.query(dropStageSql(ledger));
}
