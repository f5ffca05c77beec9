// Child of the import bench: imports one CSV file into a sink and prints its peak RSS, so the figure is this
// import's alone (the parent holds the sink and the emulator whose $metadata gives the rules).
import { readFileSync } from 'node:fs';
import { importRows, tableRules } from '../../src/dataverse/bulkImport';
import { openSourceFile } from '../../src/dataverse/importSource';
import { RequestLimiter } from '../../src/dataverse/limiter';
import { staticTokenProvider, WebApiClient } from '../../src/dataverse/webApiClient';
import { parseCsdl } from '../../src/metadata/csdl';

async function main(file: string, url: string, metadataFile: string): Promise<void> {
  const rules = tableRules(parseCsdl(readFileSync(metadataFile, 'utf8')).model, 'accounts');
  const client = new WebApiClient({ url, tokenProvider: staticTokenProvider('bench'), limiter: new RequestLimiter() });
  const summary = await importRows({
    client,
    rules,
    source: await openSourceFile(file, 'csv'),
    csv: true,
    batchSize: Number(process.env.BS ?? 1000),
    mode: 'bulk',
  });
  process.stdout.write(`${JSON.stringify({ rows: summary.imported, maxRssKb: process.resourceUsage().maxRSS })}\n`);
}

const [file = '', url = '', metadataFile = ''] = process.argv.slice(2);
main(file, url, metadataFile).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
