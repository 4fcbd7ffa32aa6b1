/**
 * An independent, deliberately plain reference of Hugging Face transformers' beam search, to
 * check beamSearch() against. It shares no code with src/beam.ts: every step scores every
 * (beam, token) pair, sorts the whole list, and rebuilds the beams from scratch; the model is
 * asked for one prefix at a time through `logProbs` (a fresh forward per prefix, no batching).
 *
 * Two sets of rules, both read from transformers' source (written here from scratch):
 *
 * "beam-search": GenerationMixin._beam_search (transformers ≥ 4.50, the vectorised rewrite).
 *   Each step keeps the top 2·B candidates over beams × vocab. A candidate "hits a stopping
 *   criterion" when its token is an end token or when it reaches max length; among those, only
 *   the ones ranked < B may enter the finished set, which keeps the best B by
 *   sum / generatedLength^lengthPenalty (generatedLength counts the end token). The next beams
 *   are the best B candidates that did not hit. After the step (now `len` generated tokens) the
 *   search stops when
 *     - every candidate hit (the max length step), or
 *     - earlyStopping true and B hypotheses are finished, or
 *     - B hypotheses are finished and bestLiveScore / L^lengthPenalty ≤ worst finished, with
 *       L = maxTokens for "never" with lengthPenalty > 0 and L = len otherwise.
 *   With earlyStopping true, no hypothesis is added once all B are finished (checked before the
 *   step), which for one prompt never matters since the search stops at that point.
 *   For groups > 1 these rules are applied per group (a finished group is skipped, as if absent).
 *
 * "group-scorer": GenerationMixin._group_beam_search with BeamSearchScorer / BeamHypotheses
 *   (the older scorer, still what diverse beam search runs on). Per group, the candidates are
 *   scanned in rank order: an end token ranked < B' is added to the group's hypotheses (kept if
 *   the list has room or it beats the worst), others become the next beams until B' of them.
 *   The group is done once it has B' hypotheses and: earlyStopping true; or, with
 *   best = the best candidate of the step (end tokens included), worst ≥ best / L^lengthPenalty
 *   (L as above). A done group keeps feeding the pad token (here the end token) into the Hamming
 *   diversity penalty of later groups. The search stops when every group is done or at max
 *   length, when the live beams of the groups not done yet join their hypotheses.
 *
 * Diverse beam search (both rules): at each step group g's log-probabilities get −λ for every
 * beam of groups 0..g−1 that took that token this step (Hugging Face's
 * HammingDiversityLogitsProcessor, applied to the log-softmax), and a beam's score accumulates
 * these penalised values.
 */

export type Rules = "beam-search" | "group-scorer";

export interface ReferenceOptions {
  beams: number;
  groups?: number;
  maxTokens: number;
  lengthPenalty: number;
  earlyStopping: boolean | "never";
  numReturn: number;
  diversityPenalty?: number;
  eos: number;
  rules: Rules;
}

export interface ReferenceHypothesis {
  tokens: number[];
  score: number;
  logprob: number;
  finished: boolean;
  group: number;
}

export interface ReferenceResult {
  hypotheses: ReferenceHypothesis[];
  groups: ReferenceHypothesis[][];
  /** forward passes of the search loop (one per generated position) */
  steps: number;
}

interface RefBeam {
  tokens: number[];
  score: number;
  logprob: number;
}

interface RefCandidate {
  beamIndex: number;
  tokens: number[];
  token: number;
  score: number;
  logprob: number;
}

/** Highest score first; equal scores by beam index, then token id (a fixed, reproducible order). */
function compareCandidates(a: RefCandidate, b: RefCandidate): number {
  if (a.score !== b.score) return a.score > b.score ? -1 : 1;
  if (a.beamIndex !== b.beamIndex) return a.beamIndex - b.beamIndex;
  return a.token - b.token;
}

function sortHypotheses(list: ReferenceHypothesis[]): ReferenceHypothesis[] {
  return list.slice().sort((a, b) => b.score - a.score);
}

/** Hugging Face's BeamHypotheses.add: append when there is room or it beats the worst; keep the best `size`. */
function addToFinished(list: ReferenceHypothesis[], size: number, h: ReferenceHypothesis): ReferenceHypothesis[] {
  if (list.length >= size) {
    const worst = Math.min(...list.map((x) => x.score));
    if (!(h.score > worst)) return list;
  }
  return sortHypotheses([...list, h]).slice(0, size);
}

/**
 * `logProbs(generated)` must return the model's log-softmax (float64) over the vocabulary for the
 * next token after prompt + generated.
 */
export function referenceBeamSearch(logProbs: (generated: number[]) => number[], opts: ReferenceOptions): ReferenceResult {
  const G = opts.groups ?? 1;
  const size = opts.beams / G;
  const lambda = opts.diversityPenalty ?? 0;
  const alpha = opts.lengthPenalty;
  const lengthScore = (sum: number, len: number) => sum / len ** alpha;

  let beams: RefBeam[][] = [];
  for (let g = 0; g < G; g++) beams.push([{ tokens: [], score: 0, logprob: 0 }]);
  let finished: ReferenceHypothesis[][] = [];
  for (let g = 0; g < G; g++) finished.push([]);
  const done: boolean[] = new Array(G).fill(false);
  let steps = 0;

  for (let t = 0; t < opts.maxTokens; t++) {
    steps += 1;
    const len = t + 1;
    const last = len === opts.maxTokens;
    // tokens taken this step by each group so far (for the Hamming penalty)
    const takenThisStep: number[] = [];
    const nextBeams: RefBeam[][] = beams.map((b) => b);

    for (let g = 0; g < G; g++) {
      if (done[g]) {
        // the scorer pads a done group: its beams feed the pad (= end) token to later groups
        if (opts.rules === "group-scorer") for (let i = 0; i < size; i++) takenThisStep.push(opts.eos);
        continue;
      }
      const all: RefCandidate[] = [];
      beams[g].forEach((beam, beamIndex) => {
        const lp = logProbs(beam.tokens);
        for (let v = 0; v < lp.length; v++) {
          let uses = 0;
          for (const x of takenThisStep) if (x === v) uses++;
          all.push({ beamIndex, tokens: [...beam.tokens, v], token: v, score: beam.score + lp[v] - lambda * uses, logprob: beam.logprob + lp[v] });
        }
      });
      all.sort(compareCandidates);
      const top = all.slice(0, 2 * size);
      const hyp = (c: RefCandidate, isEnd: boolean): ReferenceHypothesis => ({
        tokens: c.tokens,
        score: lengthScore(c.score, len),
        logprob: c.logprob,
        finished: isEnd,
        group: g,
      });

      if (opts.rules === "beam-search") {
        const hits = (c: RefCandidate) => c.token === opts.eos || last;
        const live = top.filter((c) => !hits(c)).slice(0, size);
        const fullBefore = finished[g].length === size;
        if (!(opts.earlyStopping === true && fullBefore)) {
          for (let r = 0; r < size; r++) if (hits(top[r])) finished[g] = addToFinished(finished[g], size, hyp(top[r], top[r].token === opts.eos));
        }
        nextBeams[g] = live.map((c) => ({ tokens: c.tokens, score: c.score, logprob: c.logprob }));
        // the tokens this group's beams take (at max length too, where they are cut rather than kept)
        for (const c of top.filter((x) => x.token !== opts.eos).slice(0, size)) takenThisStep.push(c.token);
        const full = finished[g].length === size;
        if (full && opts.earlyStopping === true) done[g] = true;
        else if (full && live.length > 0) {
          const L = opts.earlyStopping === "never" && alpha > 0 ? opts.maxTokens : len;
          const bestPossible = live[0].score / L ** alpha;
          const worst = Math.min(...finished[g].map((h) => h.score));
          if (!(bestPossible > worst)) done[g] = true;
        }
      } else {
        const live: RefCandidate[] = [];
        for (let r = 0; r < top.length && live.length < size; r++) {
          const c = top[r];
          if (c.token === opts.eos) {
            if (r < size) finished[g] = addToFinished(finished[g], size, hyp(c, true));
          } else live.push(c);
        }
        nextBeams[g] = live.map((c) => ({ tokens: c.tokens, score: c.score, logprob: c.logprob }));
        for (const b of nextBeams[g]) takenThisStep.push(b.tokens[b.tokens.length - 1]);
        if (finished[g].length === size) {
          if (opts.earlyStopping === true) done[g] = true;
          else {
            const L = opts.earlyStopping === "never" && alpha > 0 ? opts.maxTokens : len;
            const worst = Math.min(...finished[g].map((h) => h.score));
            if (worst >= top[0].score / L ** alpha) done[g] = true;
          }
        }
        if (last && !done[g]) for (const c of live) finished[g] = addToFinished(finished[g], size, hyp(c, false));
      }
    }
    beams = nextBeams;
    // at max length every candidate hit a stopping criterion: nothing is left to continue
    if (last || done.every((d) => d)) break;
  }

  finished = finished.map(sortHypotheses);
  const hypotheses = sortHypotheses(finished.flat()).slice(0, opts.numReturn);
  return { hypotheses, groups: finished, steps };
}
