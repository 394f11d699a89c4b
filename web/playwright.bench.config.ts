import { homedir } from 'node:os'
import { join } from 'node:path'
import base from './playwright.config'

// Browser benchmarks (`npm run bench:first-load`): the same global setup as the browser tests,
// but against the release server (JIESU_BIN to choose another) and with the specs in ./bench.
const targetDir = process.env.CARGO_TARGET_DIR || join(homedir(), '.cache', 'jiesu-target')
process.env.JIESU_BIN ??= join(targetDir, 'release', 'jiesu')

export default { ...base, testDir: './bench', timeout: 300_000, outputDir: 'test-results-bench' }
