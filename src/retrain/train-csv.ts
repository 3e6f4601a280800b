/** RFC 4180 CSV, as `croupier export --format csv` writes it: a header row, quoted fields where needed. */

/**
 * The records of `text`, each a list of fields; an empty unquoted field is null (no value), a
 * quoted empty one "" is the empty string. Throws on a quote left open.
 */
export function parseCsv(text: string): (string | null)[][] {
  const records: (string | null)[][] = [];
  let record: (string | null)[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  const endField = (): void => {
    record.push(field === '' && !quoted ? null : field);
    field = '';
    quoted = false;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '"' && field === '' && !quoted) {
      // A quoted field: up to the closing quote, "" standing for one quote.
      quoted = true;
      i++;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close < 0) throw new Error(`a quoted field is never closed (record ${records.length + 1})`);
        field += text.slice(i, close);
        i = close + 1;
        if (text[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
      continue;
    }
    if (c === ',') {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endField();
      records.push(record);
      record = [];
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += c;
      i++;
    }
  }
  if (field !== '' || quoted || record.length > 0) {
    endField();
    records.push(record);
  }
  return records;
}
