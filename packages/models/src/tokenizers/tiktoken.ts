/**
 * tiktoken rank files (`tokenizer.model` of Llama 3, `qwen.tiktoken`): one token per line,
 * base64 of its bytes, a space, its rank. The rank is the token id and the merge priority.
 */
import { ModelFormatError } from "../errors";

/** Byte strings (see bytes.ts) indexed by rank. */
export function parseTiktokenRanks(source: string | Uint8Array, file: string): string[] {
  const text = typeof source === "string" ? source : new TextDecoder().decode(source);
  const tokens: string[] = [];
  let lineNo = 0;
  for (const line of text.split("\n")) {
    lineNo++;
    if (line.trim() === "") continue;
    const m = /^([A-Za-z0-9+/]+={0,2}) (\d+)\r?$/.exec(line);
    if (!m) throw new ModelFormatError(file, `line ${lineNo} is not "<base64> <rank>": ${JSON.stringify(line.slice(0, 60))}`);
    const rank = Number(m[2]);
    let bin: string;
    try {
      bin = atob(m[1]);
    } catch {
      throw new ModelFormatError(file, `line ${lineNo}: invalid base64`);
    }
    if (bin.length === 0) throw new ModelFormatError(file, `line ${lineNo}: empty token`);
    if (tokens[rank] !== undefined) throw new ModelFormatError(file, `line ${lineNo}: rank ${rank} appears twice`);
    tokens[rank] = bin;
  }
  if (tokens.length === 0) throw new ModelFormatError(file, "holds no ranks");
  for (let i = 0; i < tokens.length; i++)
    if (tokens[i] === undefined) throw new ModelFormatError(file, `rank ${i} is missing (ranks must be 0..${tokens.length - 1})`);
  return tokens;
}
