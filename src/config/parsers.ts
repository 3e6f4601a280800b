/**
 * How one option's text becomes a value. Each parser names the option in its error (`name` is the
 * environment variable, also when the value came from a flag) and says what it takes (`hint`, for --help).
 */
import { availableParallelism } from 'node:os';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { NAME_MAX } from '../admin/names.js';
import { ConfigError } from '../errors.js';

export interface Parser<T> {
  /** What a flag takes, shown in --help when the option has no default; '' for a switch (no value). */
  readonly hint: string;
  parse(name: string, raw: string): T;
}

export const text: Parser<string> = { hint: 'TEXT', parse: (_name, raw) => raw };

export function integer(min: number, max: number): Parser<number> {
  return {
    hint: 'N',
    parse(name, raw) {
      if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
      const n = Number(raw);
      if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
      return n;
    },
  };
}

/**
 * `auto` workers: one fewer than the cores (the main thread parses, routes, batches and runs small
 * models inline), but two on two cores, at most four; each worker's sessions run with one intra-op
 * thread. On 2 cores a second worker gave a compute-bound model ~1.4x the rows/s and left the
 * small-model predict path unchanged (bench/RESULTS.md, bench:compute). See README "Workers".
 */
export const workerCount: Parser<number> = {
  hint: 'auto|N',
  parse(name, raw) {
    if (raw !== 'auto') return integer(1, 64).parse(name, raw);
    const cores = availableParallelism();
    return Math.min(4, cores <= 2 ? cores : cores - 1);
  },
};

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1024,
  k: 1024,
  mb: 1024 ** 2,
  m: 1024 ** 2,
  gb: 1024 ** 3,
  g: 1024 ** 3,
};

/** Bytes, written `65536`, `64kb`, `1mb` or `1gb`; from 64 bytes to 1gb. */
export const size: Parser<number> = {
  hint: 'SIZE',
  parse(name, raw) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw);
    const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new ConfigError(`${name} must be a size such as 1mb or 65536, got "${raw}"`);
    const bytes = Math.floor(Number(m[1]) * unit);
    if (bytes < 64 || bytes > 1024 ** 3) {
      throw new ConfigError(`${name} must be between 64 bytes and 1gb, got "${raw}"`);
    }
    return bytes;
  },
};

/** A switch: the flag alone (or 1, true) turns it on. */
export const boolean: Parser<boolean> = {
  hint: '',
  parse(name, raw) {
    const lower = raw.toLowerCase();
    if (raw === '0' || lower === 'false') return false;
    if (raw === '1' || lower === 'true') return true;
    throw new ConfigError(`${name} must be 1 or 0, got "${raw}"`);
  },
};

export function oneOf<T extends string>(values: readonly T[]): Parser<T> {
  return {
    hint: values.join('|'),
    parse(name, raw) {
      if ((values as readonly string[]).includes(raw)) return raw as T;
      throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}"`);
    },
  };
}

/** A path, made absolute (relative to the working directory). */
export const path: Parser<string> = { hint: 'PATH', parse: (_name, raw) => resolve(raw) };

export const directory: Parser<string> = {
  hint: 'DIR',
  parse(name, raw) {
    const abs = resolve(raw);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      throw new ConfigError(`${name}: cannot read directory ${abs}`);
    }
    if (!isDir) throw new ConfigError(`${name}: ${abs} is not a directory`);
    return abs;
  },
};

export const redisUrl: Parser<string> = {
  hint: 'URL',
  parse(name, raw) {
    if (!/^rediss?:\/\//.test(raw)) throw new ConfigError(`${name} must start with redis:// or rediss://`);
    return raw;
  },
};

/** `host:port,host:port,…` */
export const hostPorts: Parser<string[] | undefined> = {
  hint: 'H:P,...',
  parse(name, raw) {
    const list = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.find((hp) => !/^[\w.-]+:\d{1,5}$/.test(hp));
    if (bad !== undefined) throw new ConfigError(`${name}: "${bad}" is not host:port`);
    return list.length > 0 ? list : undefined;
  },
};

/** Named admin tokens: `name:token,…`, or `@file` with one `name:token` a line. */
export const namedTokens: Parser<[name: string, token: string][]> = {
  hint: 'NAME:TOKEN,...',
  parse(name, raw) {
    let list = raw;
    if (list.startsWith('@')) {
      try {
        list = readFileSync(list.slice(1), 'utf8').split('\n').join(',');
      } catch {
        throw new ConfigError(`${name}: cannot read token file ${list.slice(1)}`);
      }
    }
    const entries = new Map<string, string>();
    for (const entry of list
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const colon = entry.indexOf(':');
      const tokenName = entry.slice(0, colon);
      const token = entry.slice(colon + 1);
      if (colon > 0 && tokenName.length > NAME_MAX) {
        const shown = `"${tokenName.slice(0, 16)}…"`;
        const long = `longer than ${NAME_MAX} characters (${tokenName.length})`;
        throw new ConfigError(`${name}: the token name ${shown} is ${long}`);
      }
      if (colon <= 0 || !/^[\w.-]{1,64}$/.test(tokenName)) {
        throw new ConfigError(`${name}: each entry must be name:token with a name of letters, digits, . _ -`);
      }
      // A trailing `:viewer` (or `:admin`) is the token's role, not part of it (admin/auth.ts).
      const bare = token.replace(/:(viewer|admin)$/, '');
      if (bare.length < 8) {
        throw new ConfigError(`${name}: the token named "${tokenName}" is shorter than 8 characters`);
      }
      if (entries.has(tokenName)) throw new ConfigError(`${name}: the name "${tokenName}" appears twice`);
      entries.set(tokenName, token);
    }
    return [...entries];
  },
};
