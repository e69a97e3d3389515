import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { serverFlags, startEmbeddedServer } from '../../src/embedded/embedded-server.ts';

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

describe('a throwaway server after Ctrl-C', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s to its process: no server process and no data directory left', async (signal) => {
    const { spawn } = await import('node:child_process');
    const root = new URL('../..', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/server-until-signal.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const started = await new Promise<{ dataDir: string; pid: number }>((resolve) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
      });
    });
    expect(existsSync(started.dataDir)).toBe(true);
    child.kill(signal);
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(started.dataDir)).toBe(false);
    const deadline = Date.now() + 10_000;
    const alive = () => {
      try {
        process.kill(started.pid, 0);
        return !/\) Z/.test(readFileSync(`/proc/${started.pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive()).toBe(false);
  });
});
