/**
 * `helm template` for the tests, without helm (there is none on the dev machines or CI, and no
 * network to fetch it): the subset of Go's text/template and of Helm's functions (Sprig) that
 * helm/croupier uses, with the semantics that bite in real charts kept:
 *  - values from YAML are float64 in Helm (numbers print as Go's %v: 1000000 is `1e+06`); `int`,
 *    `int64`, `add`, `div` and integer literals give integers; comparing the two kinds is an error;
 *  - `{{-` / `-}}` trim whitespace; a missing map key is empty, a field of a missing value an error;
 *  - `and` / `or` return an operand and stop early; `range` over a map goes in key order;
 *  - the merged values are validated against values.schema.json first, as Helm does;
 *  - `fail` aborts the render with its message.
 * Anything outside that subset throws (an unknown function, action or syntax), so a template
 * change that needs more fails loudly here rather than being misread.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments, stringify } from 'yaml';

// biome-ignore lint/suspicious/noExplicitAny: template data is untyped, as in Go
type Value = any;

/** A template's `fail`, or a render error, with Helm's wording where it matters. */
export class RenderError extends Error {}

// ---------------------------------------------------------------------------------------------
// Go values: float64 (JS number, from values), int (bigint), string, bool, nil (null), maps, lists.

const isMap = (v: Value): v is Record<string, Value> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Go's fmt %v of a float64: strconv's 'g' with the shortest digits, which switches to %e when the
 * exponent is < -4 or >= 6 (for the shortest precision): 100000 prints `100000`, 1000000 `1e+06`.
 */
const goFloat = (f: number): string => {
  if (!Number.isFinite(f)) return Number.isNaN(f) ? 'NaN' : f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa, e] = f.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(f);
};

/** Go's fmt %v. */
const show = (v: Value): string => {
  if (v === null || v === undefined) return '';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return goFloat(v);
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  return `map[${Object.keys(v)
    .sort()
    .map((k) => `${k}:${show(v[k])}`)
    .join(' ')}]`;
};

/** text/template's truth. */
const truthy = (v: Value): boolean => {
  if (v === null || v === undefined || v === false || v === '' || v === 0 || v === 0n) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
};

/** Sprig's toInt64 (spf13/cast). */
const toInt = (v: Value): bigint => {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') {
    const s = v.replace(/\.0*$/, '');
    return /^[-+]?\d+$/.test(s) ? BigInt(s) : 0n;
  }
  return 0n;
};

const kindOf = (v: Value): string => {
  if (v === null || v === undefined) return 'invalid';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  return Array.isArray(v) ? 'slice' : 'map';
};

/** text/template's eq / lt: basic values of one kind (an int and a float64 do not compare). */
const compare = (a: Value, b: Value, op: string): number => {
  const ka = kindOf(a);
  const kb = kindOf(b);
  if (ka !== kb) throw new RenderError(`error calling ${op}: incompatible types for comparison (${ka}, ${kb})`);
  if (ka === 'slice' || ka === 'map' || ka === 'invalid')
    throw new RenderError(`error calling ${op}: invalid type for comparison`);
  return a < b ? -1 : a > b ? 1 : 0;
};

/** Sprig's toYaml: sigs.k8s.io/yaml (keys sorted, lists not indented), trailing newline trimmed. */
const toYaml = (v: Value): string => {
  const plain = JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x)));
  return stringify(plain, { sortMapEntries: true, indentSeq: false, lineWidth: 0 }).replace(/\n$/, '');
};

// ---------------------------------------------------------------------------------------------
// Lexing and parsing.

type Token =
  | { t: 'str'; v: string }
  | { t: 'num'; v: bigint | number }
  | { t: 'bool'; v: boolean }
  | { t: 'nil' }
  | { t: 'field'; path: string[] } // .A.B ; [] is `.`
  | { t: 'var'; name: string; path: string[] } // $x.A ; name '' is `$`
  | { t: 'ident'; v: string }
  | { t: '(' }
  | { t: ')' }
  | { t: '|' }
  | { t: ':=' }
  | { t: '=' }
  | { t: ',' };

const tokenize = (src: string, where: string): Token[] => {
  const out: Token[] = [];
  let i = 0;
  const fields = (): string[] => {
    const path: string[] = [];
    while (src[i] === '.' && /[A-Za-z_]/.test(src[i + 1] ?? '')) {
      const m = /^\.([A-Za-z_]\w*)/.exec(src.slice(i))!;
      path.push(m[1]!);
      i += m[0].length;
    }
    return path;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) i++;
    else if (c === '"') {
      const m = /^"(?:[^"\\]|\\.)*"/.exec(src.slice(i));
      if (!m) throw new RenderError(`${where}: unterminated string`);
      out.push({ t: 'str', v: JSON.parse(m[0]) });
      i += m[0].length;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      out.push({ t: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
    } else if (/[-\d]/.test(c) && /^-?\d/.test(src.slice(i))) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[1] ? Number(m[0]) : BigInt(m[0]) });
      i += m[0].length;
    } else if (c === '.') {
      if (/[A-Za-z_]/.test(src[i + 1] ?? '')) out.push({ t: 'field', path: fields() });
      else {
        out.push({ t: 'field', path: [] });
        i++;
      }
    } else if (c === '$') {
      const m = /^\$(\w*)/.exec(src.slice(i))!;
      i += m[0].length;
      out.push({ t: 'var', name: m[1]!, path: fields() });
    } else if (src.startsWith(':=', i)) {
      out.push({ t: ':=' });
      i += 2;
    } else if ('()|=,'.includes(c)) {
      out.push({ t: c as '(' });
      i++;
    } else {
      const m = /^[A-Za-z_]\w*/.exec(src.slice(i));
      if (!m) throw new RenderError(`${where}: unexpected "${c}" in action`);
      i += m[0].length;
      if (m[0] === 'true' || m[0] === 'false') out.push({ t: 'bool', v: m[0] === 'true' });
      else if (m[0] === 'nil') out.push({ t: 'nil' });
      else out.push({ t: 'ident', v: m[0] });
    }
  }
  return out;
};

type Operand =
  | { k: 'lit'; v: Value }
  | { k: 'field'; path: string[] }
  | { k: 'var'; name: string; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'pipe'; pipe: Pipeline };
type Command = Operand[];
interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  cmds: Command[];
}

const parsePipeline = (tokens: Token[], where: string): Pipeline => {
  let pos = 0;
  let decl: Pipeline['decl'];
  // `$a := …`, `$a, $b := …`, `$a = …`
  const declEnd = tokens.findIndex((t) => t.t === ':=' || t.t === '=');
  if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => t.t === 'var' || t.t === ',')) {
    decl = {
      names: tokens.slice(0, declEnd).flatMap((t) => (t.t === 'var' ? [t.name] : [])),
      assign: tokens[declEnd]!.t === '=',
    };
    pos = declEnd + 1;
  }
  const pipeline = (): Pipeline => {
    const cmds: Command[] = [[]];
    while (pos < tokens.length) {
      const t = tokens[pos++]!;
      if (t.t === ')') {
        pos--;
        break;
      }
      if (t.t === '|') cmds.push([]);
      else if (t.t === '(') {
        const inner = pipeline();
        if (tokens[pos++]?.t !== ')') throw new RenderError(`${where}: unclosed (`);
        cmds.at(-1)!.push({ k: 'pipe', pipe: inner });
      } else if (t.t === 'str' || t.t === 'num' || t.t === 'bool') cmds.at(-1)!.push({ k: 'lit', v: t.v });
      else if (t.t === 'nil') cmds.at(-1)!.push({ k: 'lit', v: null });
      else if (t.t === 'field') cmds.at(-1)!.push({ k: 'field', path: t.path });
      else if (t.t === 'var') cmds.at(-1)!.push({ k: 'var', name: t.name, path: t.path });
      else if (t.t === 'ident') cmds.at(-1)!.push({ k: 'fn', name: t.v });
      else throw new RenderError(`${where}: unexpected ${t.t}`);
    }
    if (cmds.some((c) => c.length === 0)) throw new RenderError(`${where}: empty command in pipeline`);
    return { cmds };
  };
  const p = pipeline();
  if (pos !== tokens.length) throw new RenderError(`${where}: unexpected ) in action`);
  return { decl, cmds: p.cmds };
};

type Node =
  | { n: 'text'; v: string }
  | { n: 'out'; pipe: Pipeline }
  | { n: 'if'; branches: { pipe: Pipeline; body: Node[] }[]; else?: Node[] }
  | { n: 'with'; pipe: Pipeline; body: Node[]; else?: Node[] }
  | { n: 'range'; pipe: Pipeline; body: Node[]; else?: Node[] };

/** Splits a template into text and actions, applying the trim markers. */
const lex = (src: string, name: string): ({ text: string } | { action: string; line: number })[] => {
  const parts: ({ text: string } | { action: string; line: number })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? undefined : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      parts.push({ text });
      break;
    }
    const trimLeft = /^\{\{-\s/.test(src.slice(open));
    if (trimLeft) text = text.replace(/\s+$/, '');
    parts.push({ text });
    // The action ends at the first }} outside a string literal.
    let j = open + (trimLeft ? 3 : 2);
    let quote = '';
    while (j < src.length) {
      const c = src[j]!;
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === '`') quote = c;
      else if (src.startsWith('}}', j)) break;
      j++;
    }
    if (j >= src.length) throw new RenderError(`${name}: unclosed action`);
    let body = src.slice(open + (trimLeft ? 3 : 2), j);
    trimNext = /\s-$/.test(body);
    if (trimNext) body = body.slice(0, -2);
    parts.push({ action: body.trim(), line: src.slice(0, open).split('\n').length });
    i = j + 2;
  }
  return parts;
};

/** Parses a file: its top-level nodes and the templates it defines. */
const parseTemplate = (src: string, name: string, defines: Map<string, Node[]>): Node[] => {
  const parts = lex(src, name);
  let k = 0;
  /** Nodes up to an {{ end }} / {{ else … }}, which it returns (or undefined at the file's end). */
  const block = (): { nodes: Node[]; stop?: string } => {
    const nodes: Node[] = [];
    while (k < parts.length) {
      const part = parts[k++]!;
      if ('text' in part) {
        if (part.text) nodes.push({ n: 'text', v: part.text });
        continue;
      }
      const { action, line } = part;
      const where = `${name}:${line}`;
      if (action.startsWith('/*')) {
        if (!action.endsWith('*/')) throw new RenderError(`${where}: unclosed comment`);
        continue;
      }
      const [, word, rest = ''] = /^(\w+)\b\s*([\s\S]*)$/.exec(action) ?? [];
      if (word === 'end' || word === 'else') return { nodes, stop: action };
      if (word === 'if' || word === 'with' || word === 'range') {
        const pipe = parsePipeline(tokenize(rest, where), where);
        const inner = block();
        if (word === 'if') {
          const node: Extract<Node, { n: 'if' }> = { n: 'if', branches: [{ pipe, body: inner.nodes }] };
          let stop = inner.stop;
          while (stop?.startsWith('else if ')) {
            const branchPipe = parsePipeline(tokenize(stop.slice(8), where), where);
            const next = block();
            node.branches.push({ pipe: branchPipe, body: next.nodes });
            stop = next.stop;
          }
          if (stop === 'else') {
            const next = block();
            node.else = next.nodes;
            stop = next.stop;
          }
          if (stop !== 'end') throw new RenderError(`${where}: ${word} without end`);
          nodes.push(node);
        } else {
          let elseNodes: Node[] | undefined;
          let stop = inner.stop;
          if (stop === 'else') {
            const next = block();
            elseNodes = next.nodes;
            stop = next.stop;
          }
          if (stop !== 'end') throw new RenderError(`${where}: ${word} without end`);
          nodes.push({ n: word, pipe, body: inner.nodes, else: elseNodes });
        }
      } else if (word === 'define') {
        const defined = /^"([^"]+)"$/.exec(rest.trim());
        if (!defined) throw new RenderError(`${where}: define needs a quoted name`);
        const inner = block();
        if (inner.stop !== 'end') throw new RenderError(`${where}: define without end`);
        defines.set(defined[1]!, inner.nodes);
      } else if (word === 'template' || word === 'block' || word === 'break' || word === 'continue') {
        throw new RenderError(`${where}: {{ ${word} }} is not supported by this renderer`);
      } else nodes.push({ n: 'out', pipe: parsePipeline(tokenize(action, where), where) });
    }
    return { nodes };
  };
  const top = block();
  if (top.stop) throw new RenderError(`${name}: unexpected {{ ${top.stop} }}`);
  return top.nodes;
};

// ---------------------------------------------------------------------------------------------
// Evaluation.

interface Scope {
  vars: Map<string, Value>[];
  root: Value;
}

class Renderer {
  constructor(private readonly defines: Map<string, Node[]>) {}

  private readonly functions: Record<string, (...args: Value[]) => Value> = {
    include: (name: string, data: Value) => {
      const body = this.defines.get(name);
      if (!body) throw new RenderError(`error calling include: template: no template "${name}" associated`);
      return this.run(body, data, { vars: [new Map()], root: data });
    },
    toYaml,
    // encoding/json: map keys sorted.
    toPrettyJson: (v: Value) =>
      JSON.stringify(
        v,
        (_k, x) =>
          typeof x === 'bigint'
            ? Number(x)
            : isMap(x)
              ? Object.fromEntries(
                  Object.keys(x)
                    .sort()
                    .map((key) => [key, x[key]]),
                )
              : x,
        2,
      ),
    nindent: (n: Value, s: Value) => {
      const pad = ' '.repeat(Number(toInt(n)));
      return `\n${pad}${show(s).replaceAll('\n', `\n${pad}`)}`;
    },
    indent: (n: Value, s: Value) => {
      const pad = ' '.repeat(Number(toInt(n)));
      return `${pad}${show(s).replaceAll('\n', `\n${pad}`)}`;
    },
    quote: (...args: Value[]) =>
      args
        .filter((a) => a !== null && a !== undefined)
        .map((a) => JSON.stringify(show(a)))
        .join(' '),
    toString: (v: Value) => (v === null || v === undefined ? '<nil>' : show(v)),
    int: toInt,
    int64: toInt,
    add: (...args: Value[]) => args.reduce((s: bigint, a) => s + toInt(a), 0n),
    div: (a: Value, b: Value) => toInt(a) / toInt(b),
    default: (d: Value, ...given: Value[]) => (given.length > 0 && truthy(given[0]) ? given[0] : d),
    printf: (format: string, ...args: Value[]) => {
      let n = 0;
      return format.replace(/%([%sdvq])/g, (_m, verb: string) => {
        if (verb === '%') return '%';
        const a = args[n++];
        if (verb === 'd') {
          if (typeof a !== 'bigint') return `%!d(${kindOf(a)}=${show(a)})`;
          return a.toString();
        }
        if (verb === 'q') return JSON.stringify(show(a));
        return show(a);
      });
    },
    print: (...args: Value[]) =>
      args
        .map((a, i) => (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string' ? ' ' : '') + show(a))
        .join(''),
    trunc: (n: Value, s: Value) => {
      const c = Number(toInt(n));
      return c >= 0 ? show(s).slice(0, c) : show(s).slice(c);
    },
    trimSuffix: (suffix: string, s: string) => (s.endsWith(suffix) ? s.slice(0, s.length - suffix.length) : s),
    contains: (sub: string, s: string) => show(s).includes(show(sub)),
    replace: (from: string, to: string, s: string) => show(s).replaceAll(from, to),
    join: (sep: string, list: Value) => (Array.isArray(list) ? list.map(show).join(sep) : show(list)),
    sha256sum: (s: string) => createHash('sha256').update(show(s)).digest('hex'),
    dict: (...kv: Value[]) => {
      const out: Record<string, Value> = {};
      for (let i = 0; i < kv.length; i += 2) out[show(kv[i])] = kv[i + 1] ?? '';
      return out;
    },
    kindIs: (kind: string, v: Value) => kindOf(v) === kind,
    fail: (message: string) => {
      throw new RenderError(`execution error: ${message}`);
    },
    not: (v: Value) => !truthy(v),
    eq: (a: Value, ...bs: Value[]) => bs.some((b) => compare(a, b, 'eq') === 0),
    ne: (a: Value, b: Value) => compare(a, b, 'ne') !== 0,
    lt: (a: Value, b: Value) => compare(a, b, 'lt') < 0,
    le: (a: Value, b: Value) => compare(a, b, 'le') <= 0,
    gt: (a: Value, b: Value) => compare(a, b, 'gt') > 0,
    ge: (a: Value, b: Value) => compare(a, b, 'ge') >= 0,
  };

  run(nodes: Node[], dot: Value, scope: Scope): string {
    let out = '';
    for (const node of nodes) {
      if (node.n === 'text') out += node.v;
      else if (node.n === 'out') {
        const v = this.pipeline(node.pipe, dot, scope);
        if (!node.pipe.decl) out += show(v);
      } else if (node.n === 'if') {
        const inner: Scope = { ...scope, vars: [...scope.vars, new Map()] };
        const hit = node.branches.find((b) => truthy(this.pipeline(b.pipe, dot, inner)));
        if (hit) out += this.run(hit.body, dot, inner);
        else if (node.else) out += this.run(node.else, dot, inner);
      } else if (node.n === 'with') {
        const inner: Scope = { ...scope, vars: [...scope.vars, new Map()] };
        const v = this.pipeline(node.pipe, dot, inner);
        if (truthy(v)) out += this.run(node.body, v, inner);
        else if (node.else) out += this.run(node.else, dot, inner);
      } else {
        const inner: Scope = { ...scope, vars: [...scope.vars, new Map()] };
        const names = node.pipe.decl?.names ?? [];
        const v = this.pipeline({ cmds: node.pipe.cmds }, dot, inner);
        const entries: [Value, Value][] = Array.isArray(v)
          ? v.map((x, i) => [BigInt(i), x])
          : isMap(v)
            ? Object.keys(v)
                .sort()
                .map((key) => [key, v[key]])
            : v === null || v === undefined
              ? []
              : (() => {
                  throw new RenderError(`range can't iterate over ${show(v)}`);
                })();
        if (entries.length === 0 && node.else) out += this.run(node.else, dot, inner);
        for (const [key, value] of entries) {
          const each: Scope = { ...inner, vars: [...inner.vars, new Map()] };
          if (names.length === 1) each.vars.at(-1)!.set(names[0]!, value);
          if (names.length === 2) {
            each.vars.at(-1)!.set(names[0]!, key);
            each.vars.at(-1)!.set(names[1]!, value);
          }
          out += this.run(node.body, value, each);
        }
      }
    }
    return out;
  }

  private pipeline(pipe: Pipeline, dot: Value, scope: Scope): Value {
    let v: Value;
    pipe.cmds.forEach((cmd, i) => {
      v = this.command(cmd, dot, scope, i === 0 ? [] : [v]);
    });
    if (pipe.decl) {
      const name = pipe.decl.names[0]!;
      if (pipe.decl.assign) {
        const frame = [...scope.vars].reverse().find((f) => f.has(name));
        if (!frame) throw new RenderError(`undefined variable: $${name}`);
        frame.set(name, v);
      } else scope.vars.at(-1)!.set(name, v);
    }
    return v;
  }

  private command(cmd: Command, dot: Value, scope: Scope, piped: Value[]): Value {
    const [head, ...rest] = cmd;
    if (head!.k === 'fn') {
      const name = head!.name;
      if (name === 'and' || name === 'or') {
        // Evaluated in order, stopping at the first operand that decides (Go 1.18).
        const args = [...rest.map((a) => () => this.operand(a, dot, scope)), ...piped.map((p) => () => p)];
        let last: Value;
        for (const arg of args) {
          last = arg();
          if (name === 'and' ? !truthy(last) : truthy(last)) return last;
        }
        return last;
      }
      const fn = this.functions[name];
      if (!fn) throw new RenderError(`function "${name}" not defined`);
      return fn(...rest.map((a) => this.operand(a, dot, scope)), ...piped);
    }
    const value = this.operand(head!, dot, scope);
    // A method at the end of a field chain (`.Files.Get "path"`) is called with the arguments.
    if (typeof value === 'function') return value(...rest.map((a) => this.operand(a, dot, scope)), ...piped);
    if (rest.length > 0 || piped.length > 0) throw new RenderError(`can't give arguments to a non-function`);
    return value;
  }

  private operand(op: Operand, dot: Value, scope: Scope): Value {
    switch (op.k) {
      case 'lit':
        return op.v;
      case 'pipe':
        return this.pipeline(op.pipe, dot, scope);
      case 'fn':
        return this.command([op], dot, scope, []);
      case 'field':
        return this.fields(dot, op.path);
      case 'var': {
        if (op.name === '') return this.fields(scope.root, op.path);
        const frame = [...scope.vars].reverse().find((f) => f.has(op.name));
        if (!frame) throw new RenderError(`undefined variable: $${op.name}`);
        return this.fields(frame.get(op.name), op.path);
      }
    }
  }

  private fields(v: Value, path: string[]): Value {
    let cur = v;
    path.forEach((key, i) => {
      if (cur === null || cur === undefined)
        throw new RenderError(`nil pointer evaluating interface {}.${key} (.${path.slice(0, i + 1).join('.')})`);
      if (!isMap(cur)) throw new RenderError(`can't evaluate field ${key} in type ${kindOf(cur)}`);
      cur = key in cur ? cur[key] : null;
    });
    return cur;
  }
}

// ---------------------------------------------------------------------------------------------
// The chart.

/** Helm's value coalescing: maps merge key by key, null deletes a default, anything else replaces. */
const merge = (base: Value, over: Value): Value => {
  if (!isMap(base) || !isMap(over)) return over;
  const out: Record<string, Value> = { ...base };
  for (const [key, v] of Object.entries(over)) {
    if (v === null) delete out[key];
    else out[key] = key in base ? merge(base[key], v) : v;
  }
  return out;
};

export interface Rendered {
  /** Rendered text of each template file (`templates/deployment.yaml`), NOTES.txt included. */
  files: Map<string, string>;
  /** Every manifest of every file, parsed; files rendering to nothing give none. */
  manifests: Value[];
  /** The manifests of a kind (`kind('Deployment')`). */
  kind(kind: string): Value[];
}

const chartDir = join(import.meta.dirname, '..', '..', 'helm', 'croupier');
const chartMeta = parse(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8'));
const defaults = parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8'));
const validate = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8')),
);

/** values.yaml with the overrides coalesced onto it, as Helm does before validating and rendering. */
export const chartValues = (overrides: Value = {}): Value => merge(defaults, structuredClone(overrides));

/** Chart.yaml's fields as templates see them (`.Chart.Name`...). */
export const chartFields = { Name: chartMeta.name, Version: chartMeta.version, AppVersion: chartMeta.appVersion };

/**
 * Helm's `.Files`: the chart's files outside templates/ and the chart's own metadata, read as text;
 * a name it does not hold gives "" (as Helm's Files.Get does).
 */
export const chartFiles = {
  Get: (name: Value): string => {
    const path = show(name);
    const special =
      /^(templates|charts)\//.test(path) || ['Chart.yaml', 'values.yaml', 'values.schema.json'].includes(path);
    if (special || path.split('/').includes('..') || path.startsWith('/')) return '';
    try {
      return readFileSync(join(chartDir, path), 'utf8');
    } catch {
      return '';
    }
  },
};

/** `helm template <release> helm/croupier -f <overrides>`, in namespace `default`. */
export const renderChart = (overrides: Value = {}, release = 'croupier'): Rendered => {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(release) || release.length > 53)
    throw new RenderError(`release name "${release}": Helm wants a DNS label of at most 53 characters`);
  const values = chartValues(overrides);
  if (!validate(values)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'}: ${e.message}`);
    throw new RenderError(`values don't meet the specifications of the schema(s): ${problems.join('; ')}`);
  }
  const templatesDir = join(chartDir, 'templates');
  const names = (readdirSync(templatesDir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => relative(templatesDir, join(e.parentPath, e.name)))
    .sort();
  const defines = new Map<string, Node[]>();
  const bodies = new Map<string, Node[]>();
  for (const name of names) {
    const full = `${chartMeta.name}/templates/${name}`;
    const nodes = parseTemplate(readFileSync(join(templatesDir, name), 'utf8'), full, defines);
    bodies.set(name, nodes);
    defines.set(full, nodes);
  }
  const renderer = new Renderer(defines);
  const files = new Map<string, string>();
  const manifests: Value[] = [];
  for (const name of names) {
    const full = `${chartMeta.name}/templates/${name}`;
    const data = {
      Values: values,
      Chart: chartFields,
      Release: { Name: release, Namespace: 'default', Service: 'Helm', IsInstall: true, IsUpgrade: false },
      Template: { Name: full, BasePath: `${chartMeta.name}/templates` },
      Capabilities: {},
      Files: chartFiles,
    };
    const text = renderer.run(bodies.get(name)!, data, { vars: [new Map()], root: data });
    files.set(`templates/${name}`, text);
    if (name.startsWith('_') || name === 'NOTES.txt') continue;
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new RenderError(`${full}: YAML parse error: ${doc.errors[0]!.message}\n${text}`);
      const manifest = doc.toJS();
      if (manifest !== null && manifest !== undefined) manifests.push(manifest);
    }
  }
  return { files, manifests, kind: (kind: string) => manifests.filter((m) => m.kind === kind) };
};

/** One template text rendered with `data` as dot and `$` (the renderer's own tests). */
export const renderString = (src: string, data: Value, defines: Record<string, string> = {}): string => {
  const table = new Map<string, Node[]>();
  for (const [name, body] of Object.entries(defines)) parseTemplate(body, name, table);
  const nodes = parseTemplate(src, 'inline', table);
  return new Renderer(table).run(nodes, data, { vars: [new Map()], root: data });
};
