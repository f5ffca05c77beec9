/** A range of offsets into a text: the unit every node, diagnostic and edit of `src/odata` is located by. */
export interface TextSpan {
  /** Offset of the first character. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}
