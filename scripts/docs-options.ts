/** Writes the README's configuration table from the options table (src/config/options.ts). */
import { readFileSync, writeFileSync } from 'node:fs';
import { withOptionsTable } from '../src/config/options-docs.js';

const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withOptionsTable(before);
writeFileSync(readme, after);
process.stdout.write(`README.md: configuration table ${after === before ? 'already up to date' : 'rewritten'}\n`);
