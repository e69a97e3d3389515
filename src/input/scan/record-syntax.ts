/** The few facts about a COPY input format that decide where its records end. */
export interface RecordSyntax {
  format: 'csv' | 'text';
  /** CSV only: QUOTE and ESCAPE as single bytes (COPY's defaults: both 0x22 '"'). Ignored for text. */
  quote: number;
  escape: number;
}
