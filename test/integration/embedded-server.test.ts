import { existsSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { serverFlags, startEmbeddedServer } from '../../src/embedded-server.ts';

describe('startEmbeddedServer', () => {
  it('applies the caller\'s settings and removes its data directory when stopped', async () => {
    const server = await startEmbeddedServer({
      settings: { wal_level: 'minimal', maintenance_work_mem: '64MB', shared_buffers: '64MB' },
    });
    try {
      expect(existsSync(server.dataDir)).toBe(true);
      const client = new pg.Client(server.url);
      await client.connect();
      const { rows } = await client.query(
        "SELECT current_setting('wal_level') AS wal, current_setting('maintenance_work_mem') AS mwm, current_setting('shared_buffers') AS sb",
      );
      await client.end();
      expect(rows[0]).toEqual({ wal: 'minimal', mwm: '64MB', sb: '64MB' });
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false);
  });

  it('pairs wal_level=minimal with max_wal_senders=0, which the server requires', () => {
    expect(serverFlags({ wal_level: 'minimal' })).toEqual(expect.arrayContaining(['-c', 'max_wal_senders=0']));
    expect(serverFlags({ wal_level: 'replica' }).join(' ')).not.toContain('max_wal_senders');
  });
});
