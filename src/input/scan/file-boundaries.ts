/**
 * The I/O shell around RecordBoundaryScanner: reads a file front to back into one reused buffer.
 * The whole file is read (up to an end-of-data marker): a quote anywhere before a target decides
 * whether a line end after it ends a record, line numbers and record counts count every line end
 * before it, and a line end of the wrong style or a bad marker may be anywhere.
 */
import { DEFAULT_SCAN_BLOCK_BYTES, readFileInBlocks } from './file-blocks.ts';
import { RecordBoundaryScanner, type RecordScan } from './record-boundaries.ts';
import { LENIENT_SCAN, type RecordSyntax, type ScanRules } from './record-syntax.ts';

export { DEFAULT_SCAN_BLOCK_BYTES };

/** For each target offset, the first record start at or after it, and where the data ends; see RecordBoundaryScanner. */
export async function scanFileRecords(
  path: string,
  syntax: RecordSyntax,
  targets: readonly number[],
  { rules = LENIENT_SCAN, blockBytes = DEFAULT_SCAN_BLOCK_BYTES }: { rules?: ScanRules; blockBytes?: number } = {},
): Promise<RecordScan> {
  const scanner = new RecordBoundaryScanner(syntax, targets, rules);
  await readFileInBlocks(path, blockBytes, (block) => scanner.push(block), () => scanner.done);
  return scanner.finish();
}
