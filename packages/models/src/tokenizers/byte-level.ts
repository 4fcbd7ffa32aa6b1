/**
 * GPT-2's byte-level alphabet: every byte is shown as one printable code point (printable
 * Latin-1 bytes as themselves, the others shifted to U+0100..). GGUF "gpt2" vocabularies and
 * merges are written in it; we map them back to byte strings.
 */
const byteToChar: string[] = new Array(256);
const charToByte = new Map<string, number>();
{
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const ch = String.fromCharCode(printable ? b : 0x100 + shifted++);
    byteToChar[b] = ch;
    charToByte.set(ch, b);
  }
}

/** Byte-level text to a byte string, or undefined if a character is outside the alphabet. */
export function byteLevelToBin(text: string): string | undefined {
  let out = "";
  for (const ch of text) {
    const b = charToByte.get(ch);
    if (b === undefined) return undefined;
    out += String.fromCharCode(b);
  }
  return out;
}

export function binToByteLevel(bin: string): string {
  let out = "";
  for (let i = 0; i < bin.length; i++) out += byteToChar[bin.charCodeAt(i)];
  return out;
}
