/**
 * Pre-tokenization for byte-level BPE: the text is cut into words with one or more regexes
 * before merging, chosen by GGUF `tokenizer.ggml.pre` as llama.cpp's llama-vocab.cpp does.
 *
 * Semantics that must match llama.cpp's unicode splitter:
 * - several regexes apply in turn, each to the pieces the previous one produced, and text
 *   that a regex does not match stays as its own piece (llama.cpp's unicode_regex_split);
 * - `\s` is Unicode White_Space (llama.cpp's whitespace table: it includes U+0085 and not
 *   U+FEFF, unlike JS `\s`), so we write `\p{White_Space}` instead;
 * - `\p{L}`, `\p{N}`, `\p{P}` are the Unicode general categories in both;
 * - inline `(?i:...)` is not JS before ES2025; the contractions are spelled out with
 *   character classes, as llama.cpp does.
 * Non-ASCII characters in the regexes are written as escapes: an editor or tool that
 * NFC-normalizes source would otherwise rewrite canonical singletons such as U+1F7D into
 * U+03CE and silently change (or break) the ranges.
 */
import { TokenizerError } from "../errors";

const S = "\\p{White_Space}";
const NS = "\\P{White_Space}";

const GPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${S}\\p{L}\\p{N}]+|${S}+(?!${NS})`;
const CONTRACTIONS_ANY_CASE = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const LLAMA3 = `${CONTRACTIONS_ANY_CASE}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${S}*[\\r\\n]+|${S}+(?!${NS})|${S}+`;
const QWEN2 = `${CONTRACTIONS_ANY_CASE}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n]*|${S}*[\\r\\n]+|${S}+(?!${NS})|${S}+`;
const DEEPSEEK_CJK = "[\\u4E00-\\u9FA5\\u0800-\\u4E00\\uAC00-\\uD7FF]+";
const PORO = ` ?[^(${S}|.,!?\\u2026\\u3002\\uFF0C\\u3001\\u0964\\u06D4\\u060C)]+`;

interface PreTokenizerDef {
  regexes: string[];
  /** llama.cpp: the whole word is looked up before merging (llama3, tekken) */
  ignoreMerges?: boolean;
  /** llama.cpp's default add_bos for this pre type (the GGUF add_bos_token key overrides it) */
  addBos?: boolean;
  /** NFC-normalize text first, as the model's Hugging Face tokenizer does (qwen2) */
  nfc?: boolean;
}

const DEFS: Record<string, PreTokenizerDef> = {
  default: { regexes: [`[\\p{P}\\$\\+<=>\\^~\\|]+`, GPT2, "\\p{N}+", "[0-9][0-9][0-9]"] },
  llama3: { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  "deepseek-llm": {
    regexes: [
      "[\\r\\n]",
      `${S}?[A-Za-z\\u00B5\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u01BA\\u01BC-\\u01BF\\u01C4-\\u0293\\u0295-\\u02AF\\u0370-\\u0373\\u0376\\u0377\\u037B-\\u037D\\u037F\\u0386\\u0388-\\u038A\\u038C\\u038E-\\u03A1\\u03A3-\\u03F5\\u03F7-\\u0481\\u048A-\\u052F\\u0531-\\u0556\\u10A0-\\u10C5\\u13A0-\\u13F5\\u13F8-\\u13FD\\u1C90-\\u1CBA\\u1CBD-\\u1CBF\\u1D00-\\u1D2B\\u1D6B-\\u1D77\\u1D79-\\u1D9A\\u1E00-\\u1F15\\u1F18-\\u1F1D\\u1F20-\\u1F45\\u1F48-\\u1F4D\\u1F50-\\u1F57\\u1F59\\u1F5B\\u1F5D\\u1F5F-\\u1F7D\\u1F80-\\u1FB4\\u1FB6-\\u1FBC\\u1FBE\\u1FC2-\\u1FC4\\u1FC6-\\u1FCC\\u1FD0-\\u1FD3\\u1FD6-\\u1FDB\\u1FE0-\\u1FEC\\u1FF2-\\u1FF4\\u1FF6-\\u1FFC\\u2102\\u2107\\u210A-\\u2113\\u2115\\u2119-\\u211D\\u2124\\u2126\\u2128\\u212A-\\u212D\\u212F-\\u2134\\u2139\\u213C-\\u213F\\u2145-\\u2149\\u214E\\u2183\\u2184\\u2C00-\\u2C7B\\u2C7E-\\u2CE4\\u2CEB-\\u2CEE\\u2CF2\\u2CF3\\uA640-\\uA66D\\uA680-\\uA69B\\uA722-\\uA76F\\uA771-\\uA787\\uA78B-\\uA78E\\uAB70-\\uABBF\\uFB00-\\uFB06\\uFB13-\\uFB17\\uFF21-\\uFF3A\\uFF41-\\uFF5A\\u{10400}-\\u{1044F}\\u{104B0}-\\u{104D3}\\u{104D8}-\\u{104FB}\\u{10C80}-\\u{10CB2}\\u{10CC0}-\\u{10CF2}\\u{118A0}-\\u{118DF}\\u{1E900}-\\u{1E943}]+`,
      `${S}?[!-/:-~\\uFF01-\\uFF0F\\uFF1A-\\uFF5E\\u2018-\\u201F\\u3000-\\u3002]+`,
      `${S}+$`,
      DEEPSEEK_CJK,
      "\\p{N}+",
    ],
  },
  "deepseek-coder": { regexes: ["[\\r\\n]", `${S}?\\p{L}+`, `${S}?\\p{P}+`, DEEPSEEK_CJK, "\\p{N}"] },
  falcon: { regexes: ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"] },
  starcoder: { regexes: ["\\p{N}", GPT2] },
  gpt2: { regexes: [GPT2] },
  qwen2: { regexes: [QWEN2], nfc: true },
  poro: { regexes: [PORO] },
  viking: { regexes: [PORO, "\\p{N}"] },
  chatglm4: { regexes: [LLAMA3] },
  tekken: {
    regexes: [
      `[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^${S}\\p{L}\\p{N}]+[\\r\\n/]*|${S}*[\\r\\n]+|${S}+(?!${NS})|${S}+`,
    ],
    ignoreMerges: true,
    addBos: true,
  },
};

/** `tokenizer.ggml.pre` values (llama.cpp's names) and the regex set each uses. */
const PRE_NAMES: Record<string, keyof typeof DEFS> = {
  default: "default",
  llama3: "llama3",
  "llama-v3": "llama3",
  "llama-bpe": "llama3",
  falcon3: "llama3",
  dbrx: "llama3",
  "smaug-bpe": "llama3",
  "deepseek-llm": "deepseek-llm",
  "deepseek-coder": "deepseek-coder",
  falcon: "falcon",
  mpt: "gpt2",
  "gpt-2": "gpt2",
  "phi-2": "gpt2",
  olmo: "gpt2",
  jais: "gpt2",
  "jina-es": "gpt2",
  "jina-de": "gpt2",
  "jina-v1-en": "gpt2",
  "jina-v2-es": "gpt2",
  "jina-v2-de": "gpt2",
  "jina-v2-code": "gpt2",
  gigachat: "gpt2",
  "roberta-bpe": "gpt2",
  // not a llama.cpp name (its GGUFs carry none or "default"); GPT-NeoX-20B's tokenizer.json uses the GPT-2 regex
  "gpt-neox": "gpt2",
  starcoder: "starcoder",
  refact: "starcoder",
  "command-r": "starcoder",
  smollm: "starcoder",
  codeshell: "starcoder",
  exaone: "starcoder",
  "minerva-7b": "starcoder",
  qwen2: "qwen2",
  stablelm2: "qwen2",
  megrez: "qwen2",
  "deepseek-r1-qwen": "qwen2",
  "poro-chat": "poro",
  bloom: "poro",
  "gpt3-finnish": "poro",
  viking: "viking",
  "chatglm-bpe": "chatglm4",
  tekken: "tekken",
};

export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = Object.keys(PRE_NAMES);

export interface PreTokenizer {
  readonly name: string;
  readonly ignoreMerges: boolean;
  readonly addBos: boolean;
  readonly nfc: boolean;
  split(text: string): string[];
}

/** The pre-tokenizer for a `tokenizer.ggml.pre` value; an empty or missing value means "default". */
export function preTokenizer(pre: string | undefined): PreTokenizer {
  const name = pre === undefined || pre === "" ? "default" : pre;
  const key = PRE_NAMES[name];
  if (key === undefined) {
    throw new TokenizerError(`pre-tokenizer "${name}" is not supported; supported: ${SUPPORTED_PRE_TOKENIZERS.join(", ")}`);
  }
  const def = DEFS[key];
  const regexes = def.regexes.map((r) => new RegExp(r, "gu"));
  return {
    name,
    ignoreMerges: def.ignoreMerges ?? false,
    addBos: def.addBos ?? false,
    nfc: def.nfc ?? false,
    split: (text) => splitByRegexes(text, regexes),
  };
}

/**
 * Applies each regex to every piece from the previous step. Matches become pieces and so do
 * the unmatched stretches between them (llama.cpp keeps both).
 */
export function splitByRegexes(text: string, regexes: readonly RegExp[]): string[] {
  let pieces = text.length > 0 ? [text] : [];
  for (const re of regexes) {
    const next: string[] = [];
    for (const piece of pieces) {
      let from = 0;
      re.lastIndex = 0;
      for (let m = re.exec(piece); m !== null; m = re.exec(piece)) {
        if (m[0].length === 0) {
          // an empty match cuts nothing; step over one code point
          re.lastIndex += (piece.codePointAt(m.index) ?? 0) > 0xffff ? 2 : 1;
          continue;
        }
        if (m.index > from) next.push(piece.slice(from, m.index));
        next.push(m[0]);
        from = m.index + m[0].length;
      }
      if (from < piece.length) next.push(piece.slice(from));
    }
    pieces = next;
  }
  return pieces;
}
