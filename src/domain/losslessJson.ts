// JSON.parse turns integers above 2^53 into the nearest double, so Shopify's numeric ids
// (which can exceed it) would silently change. This parser first quotes every integer
// literal that is not a safe integer, outside strings, so it arrives as its exact digits.
export function parseJsonLossless(text: string): unknown {
  return JSON.parse(quoteUnsafeIntegers(text));
}

export function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let index = 0;
  let inString = false;
  while (index < text.length) {
    const char = text[index]!;
    if (inString) {
      out += char;
      if (char === '\\') {
        out += text[index + 1] ?? '';
        index += 2;
        continue;
      }
      if (char === '"') inString = false;
      index += 1;
      continue;
    }
    if (char === '"') {
      inString = true;
      out += char;
      index += 1;
      continue;
    }
    if (char === '-' || (char >= '0' && char <= '9')) {
      const match = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(index, index + 400));
      const literal = match?.[0] ?? char;
      const isInteger = match !== null && match[1] === undefined && match[2] === undefined;
      out += isInteger && !Number.isSafeInteger(Number(literal)) ? `"${literal}"` : literal;
      index += literal.length;
      continue;
    }
    out += char;
    index += 1;
  }
  return out;
}
