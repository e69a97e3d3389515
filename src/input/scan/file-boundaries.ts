/**
 * The I/O shell around RecordBoundaryScanner: reads a file front to back into one reused buffer.
 * The whole prefix up to the last target must be read, because a quote anywhere before a target
 * decides whether an LF after it ends a record, and line numbers count every LF before it.
 */
import { DEFAULT_SCAN_BLOCK_BYTES, readFileInBlocks } from './file-blocks.ts';
import { RecordBoundaryScanner, type RecordStart } from './record-boundaries.ts';
import type { RecordSyntax } from './record-syntax.ts';

export { DEFAULT_SCAN_BLOCK_BYTES };

/** For each target offset, the first record start at or after it; see RecordBoundaryScanner. */
export async function scanFileRecordStarts(
  path: string,
  syntax: RecordSyntax,
  targets: readonly number[],
  blockBytes = DEFAULT_SCAN_BLOCK_BYTES,
): Promise<RecordStart[]> {
  const scanner = new RecordBoundaryScanner(syntax, targets);
  // Stopping early is only safe once every target has a real record start: a target past the last
  // one gets the end of input, which needs the file's full size and LF count.
  await readFileInBlocks(path, blockBytes, (block) => scanner.push(block), () => scanner.allTargetsFound);
  return scanner.finish();
}
