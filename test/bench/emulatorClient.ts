/**
 * The emulator benchmark's load generator, run in a child process (`node --import tsx`) so that the client's
 * own work (fetch, body parsing) runs on another core instead of being charged to the emulator. It speaks
 * plain `node:http` over keep-alive connections, as a load tool would, and answers each job over IPC.
 */
import { Agent, request } from 'node:http';

export type ClientJob =
  /** `runs` timings of `batch` requests each, `concurrency` in flight: milliseconds per request. */
  | {
      readonly kind: 'load';
      readonly url: string;
      readonly headers: Record<string, string>;
      readonly runs: number;
      readonly batch: number;
      readonly concurrency: number;
    }
  /** `runs` timings of following `@odata.nextLink` from `url` to the end; `expectedRows` checks the total. */
  | {
      readonly kind: 'pageAll';
      readonly url: string;
      readonly headers: Record<string, string>;
      readonly runs: number;
      readonly expectedRows: number;
    };

export type ClientAnswer = { readonly times: number[] } | { readonly error: string };

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

function get(url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`${url}: ${res.statusCode ?? '?'}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function load(job: Extract<ClientJob, { kind: 'load' }>): Promise<number> {
  let left = job.batch;
  const worker = async (): Promise<void> => {
    while (left > 0) {
      left -= 1;
      // Parsed like any client would, so a broken answer fails the benchmark instead of timing it.
      JSON.parse(await get(job.url, job.headers));
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  return (performance.now() - started) / job.batch;
}

async function pageAll(job: Extract<ClientJob, { kind: 'pageAll' }>): Promise<number> {
  const started = performance.now();
  let rows = 0;
  let next: string | undefined = job.url;
  while (next !== undefined) {
    const body = JSON.parse(await get(next, job.headers)) as { value: unknown[]; '@odata.nextLink'?: unknown };
    rows += body.value.length;
    const link = body['@odata.nextLink'];
    next = typeof link === 'string' ? link : undefined;
  }
  if (rows !== job.expectedRows) throw new Error(`paged ${rows} rows, expected ${job.expectedRows}`);
  return performance.now() - started;
}

async function run(job: ClientJob): Promise<number[]> {
  const once = (): Promise<number> => (job.kind === 'load' ? load(job) : pageAll(job));
  await once();
  const times: number[] = [];
  for (let i = 0; i < job.runs; i++) times.push(await once());
  return times;
}

process.on('message', (job: ClientJob) => {
  run(job).then(
    (times) => process.send?.({ times } satisfies ClientAnswer),
    (error: unknown) => process.send?.({ error: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => {
  agent.destroy();
});
