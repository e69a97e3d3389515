import type pg from 'pg';

/** Runs `body` in one transaction on `client`: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(client: pg.Client, body: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await body();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}
