// Property tests run with one seed per run, printed, so a failure in CI can be replayed exactly:
// DVW_PROPERTY_SEED=<seed> npm run test:unit. The default is fixed so that CI does not flake on the
// rare run that explores differently; set DVW_PROPERTY_SEED=random to explore.
import fc from 'fast-check';

const configured = process.env.DVW_PROPERTY_SEED;
const seed =
  configured === 'random' ? Math.floor(Math.random() * 2 ** 31) : configured ? Number(configured) : 20_261_126;
if (!Number.isInteger(seed)) throw new Error(`DVW_PROPERTY_SEED must be an integer or "random", not ${configured}`);
fc.configureGlobal({ seed });

export const mochaHooks = {
  beforeAll(): void {
    console.log(`  (property tests: DVW_PROPERTY_SEED=${seed})`);
  },
};
