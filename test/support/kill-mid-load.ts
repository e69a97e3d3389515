import { spawn } from 'node:child_process';
import type pg from 'pg';
import { CLI } from './cli.ts';

/**
 * Starts the CLI with `args`, and kill -9s it once `doneChunks` chunks are committed in the ledger
 * of its load into `table`; then waits for the server to end the killed process's sessions.
 * Returns the chunks it had committed.
 */
export async function killMidLoad(client: pg.Client, args: readonly string[], at: { table: string; doneChunks: number }): Promise<number> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore' });
  let done = 0;
  for (let i = 0; i < 600 && done < at.doneChunks; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const { rows } = await client.query(`SELECT relname FROM pg_class WHERE relname LIKE $1`, [`ploader\\_${at.table}\\_%\\_chunks`]);
    if (rows.length === 0) continue;
    const counted = await client.query(`SELECT count(rows)::int AS n FROM "${rows[0].relname}"`);
    done = counted.rows[0].n;
  }
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  // The killed process's server sessions end as soon as the server sees their sockets close.
  for (let i = 0; i < 100; i++) {
    const { rows } = await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'ploader copy %'`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return done;
}
