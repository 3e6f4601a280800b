#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm run build`, or by `npm start`'s prestart).
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2)));
