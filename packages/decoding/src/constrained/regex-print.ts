/**
 * Regex trees back to pattern text (JS `u` syntax, which parseRegex reads), and literal
 * escaping. The JSON Schema compiler uses them to rewrite a schema's `pattern` (its character
 * sets cut down to what a JSON string may hold unescaped) and to embed literal values.
 */
import type { CharSet } from "./charset";
import type { RegexNode } from "./regex";

const SYNTAX = /[\^$\\.*+?()[\]{}|/]/g;

/** A literal string as a pattern that matches exactly it. */
export function escapeLiteral(s: string): string {
  return s.replace(SYNTAX, (c) => `\\${c}`);
}

function cp(c: number): string {
  if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)) return String.fromCharCode(c);
  return `\\u{${c.toString(16)}}`;
}

function printSet(s: CharSet): string {
  if (s.length === 2 && s[0] === s[1]) return cp(s[0]);
  let body = "";
  for (let i = 0; i < s.length; i += 2) body += s[i] === s[i + 1] ? cp(s[i]) : `${cp(s[i])}-${cp(s[i + 1])}`;
  return `[${body}]`;
}

/** Wraps a pattern so that a quantifier or a neighbour applies to all of it. */
function atom(n: RegexNode): string {
  const p = printRegex(n);
  return n.type === "set" ? p : `(?:${p})`;
}

export function printRegex(n: RegexNode): string {
  switch (n.type) {
    case "set":
      return printSet(n.chars);
    case "concat":
      return n.items.map((i) => (i.type === "alt" ? atom(i) : printRegex(i))).join("");
    case "alt":
      return n.items.map(printRegex).join("|");
    case "repeat": {
      const q = n.max === Number.POSITIVE_INFINITY ? `{${n.min},}` : n.min === n.max ? `{${n.min}}` : `{${n.min},${n.max}}`;
      return atom(n.item) + q;
    }
  }
}

/** The same tree with every character set replaced by f(set). */
export function mapSets(n: RegexNode, f: (s: CharSet) => CharSet): RegexNode {
  switch (n.type) {
    case "set":
      return { type: "set", chars: f(n.chars) };
    case "concat":
      return { type: "concat", items: n.items.map((i) => mapSets(i, f)) };
    case "alt":
      return { type: "alt", items: n.items.map((i) => mapSets(i, f)) };
    case "repeat":
      return { ...n, item: mapSets(n.item, f) };
  }
}
