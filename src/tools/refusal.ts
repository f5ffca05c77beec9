/**
 * A tool call the tools answer with an error result instead of data: bad arguments, an unknown name, a
 * query with errors, an environment or write that is not allowed. The message says what was wrong and
 * what to do, for a model to act on; nothing was sent or written.
 */
export class ToolRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolRefusal';
  }
}
