/**
 * Small pieces gathered into writes of at least `pieceBytes`: a million one-line records do not cost
 * a million socket or file writes. Pure: the caller writes the pieces it is handed, where it writes.
 */
export class GatheredWrites {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly pieceBytes: number) {}

  /** Adds `data`; returns what is gathered once it is at least `pieceBytes` long. */
  add(data: Buffer): Buffer | undefined {
    this.parts.push(data);
    this.bytes += data.length;
    return this.bytes >= this.pieceBytes ? this.take() : undefined;
  }

  /** What is gathered so far, emptied (undefined when nothing is). */
  take(): Buffer | undefined {
    if (this.parts.length === 0) return undefined;
    const piece = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes);
    this.parts = [];
    this.bytes = 0;
    return piece;
  }
}
