import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCsdl } from '../../../../src/metadata/csdl';
import { MetadataIndex } from '../../../../src/metadata/lookup';

const root = path.resolve(__dirname, '../../../..');
/** CI clones the repository beside a copy of `shared/`. */
export const METADATA_PATH = path.resolve(root, '../shared/fixtures/metadata/dataverse-v9.edmx.xml');

let cached: MetadataIndex | undefined;

/** The real Dataverse metadata, parsed once for all the tests that need it. */
export function realMetadata(): MetadataIndex {
  cached ??= new MetadataIndex(parseCsdl(readFileSync(METADATA_PATH, 'utf8')).model);
  return cached;
}
