// Greedy generation, as transformers' model.generate(input_ids, max_length=N)
// with do_sample=False: prefill the prompt in one forward pass, then one token at
// a time through the KV cache, always taking the most likely next token.

import type { KVCache } from "./attention";
import type { PhiModel } from "./model";
import type { PhiTokenizer } from "./tokenizer";

export interface GenerateOptions {
  /** Total length counting the prompt (transformers' max_length; the article uses 200 and 100). */
  maxLength?: number;
  /** New tokens to generate (used when maxLength is not given). */
  maxNewTokens?: number;
  /** Stop after this token (phi-2: 50256, <|endoftext|>); null: never stop early. */
  eosTokenId?: number | null;
  /** Called with each new token as soon as it is chosen. */
  onToken?(id: number): void;
}

export interface GenerateResult {
  /** The prompt followed by the new tokens (as transformers' generate returns). */
  ids: number[];
  newIds: number[];
  /** Seconds for the prompt's forward pass (which also picks the first new token). */
  prefillSeconds: number;
  /** Seconds for the remaining new tokens, one forward pass each. */
  decodeSeconds: number;
  /** (new tokens − 1) / decodeSeconds: the first new token comes from the prefill. NaN if none. */
  decodeTokensPerSecond: number;
  totalSeconds: number;
}

/** Index of the largest value (the first one on ties, as torch.argmax). */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** How many new tokens the options ask for, given the prompt length. */
export function newTokenBudget(promptLength: number, opts: GenerateOptions): number {
  if (opts.maxLength !== undefined) return Math.max(0, opts.maxLength - promptLength);
  if (opts.maxNewTokens !== undefined) return Math.max(0, opts.maxNewTokens);
  throw new Error("generate: give maxLength or maxNewTokens");
}

/**
 * Greedy generation one forward pass at a time: prefill() once, then step() for each
 * further token. For a caller that times or interleaves the passes (the bench's side
 * by side with llama.cpp); generate() runs the same passes in a loop.
 */
export class GreedySteps {
  /** The new tokens so far. */
  readonly newIds: number[] = [];
  private readonly cache: KVCache;

  /** `capacity`: new tokens the KV cache is made for (more grow it). */
  constructor(private readonly model: PhiModel, private readonly promptIds: readonly number[], capacity: number) {
    if (promptIds.length === 0) throw new Error("generate: empty prompt (phi-2 has no BOS token to start from)");
    this.cache = model.newCache(promptIds.length + capacity);
  }

  /** The prompt's forward pass; returns the first new token. */
  async prefill(): Promise<number> {
    if (this.newIds.length > 0) throw new Error("GreedySteps: prefill() runs once, first");
    return this.take(await this.model.forward(this.promptIds, this.cache));
  }

  /** The last new token's forward pass; returns the next one. */
  async step(): Promise<number> {
    if (this.newIds.length === 0) throw new Error("GreedySteps: step() before prefill()");
    return this.take(await this.model.forward([this.newIds[this.newIds.length - 1]], this.cache));
  }

  private take(logits: Float32Array): number {
    const id = argmax(logits);
    this.newIds.push(id);
    return id;
  }
}

export async function generate(model: PhiModel, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const budget = newTokenBudget(promptIds.length, opts);
  const eos = opts.eosTokenId === undefined ? model.config.eosTokenId : opts.eosTokenId;
  const run = new GreedySteps(model, promptIds, budget);
  const now = () => performance.now() / 1000;
  const t0 = now();
  let prefillSeconds = 0;
  if (budget > 0) {
    let id = await run.prefill();
    prefillSeconds = now() - t0;
    for (;;) {
      opts.onToken?.(id);
      if (id === eos || run.newIds.length >= budget) break;
      id = await run.step();
    }
  }
  const newIds = run.newIds;
  const totalSeconds = now() - t0;
  const decodeSeconds = totalSeconds - prefillSeconds;
  return {
    ids: [...promptIds, ...newIds],
    newIds,
    prefillSeconds,
    decodeSeconds,
    decodeTokensPerSecond: newIds.length > 1 ? (newIds.length - 1) / decodeSeconds : NaN,
    totalSeconds,
  };
}

export interface BatchGenerateResult {
  /** Per sequence: its prompt followed by its new tokens. */
  ids: number[][];
  newIds: number[][];
  /** Seconds for the prompts' forward passes (one per prompt; each picks its first new token). */
  prefillSeconds: number;
  /** Seconds for the batched decode steps. */
  decodeSeconds: number;
  /** Batched steps taken (each one pass over the weights for every unfinished sequence). */
  steps: number;
  /** New tokens from the batched steps (all sequences) ÷ decodeSeconds: the aggregate rate. NaN if none. */
  decodeTokensPerSecond: number;
}

/**
 * Greedy generation for several prompts at once: each prompt is prefilled on its
 * own, then every decode step feeds the unfinished sequences' last tokens through
 * the model together (PhiModel.forwardBatch), one pass over the weights per step.
 * Each sequence gets the same tokens as generate() would give it alone.
 */
export async function generateBatch(model: PhiModel, prompts: readonly (readonly number[])[], opts: Omit<GenerateOptions, "onToken">): Promise<BatchGenerateResult> {
  if (prompts.length === 0) throw new Error("generateBatch: no prompts");
  if (prompts.some((p) => p.length === 0)) throw new Error("generateBatch: empty prompt (phi-2 has no BOS token to start from)");
  const eos = opts.eosTokenId === undefined ? model.config.eosTokenId : opts.eosTokenId;
  const budgets = prompts.map((p) => newTokenBudget(p.length, opts));
  const caches = prompts.map((p, b) => model.newCache(p.length + budgets[b]));
  const newIds: number[][] = prompts.map(() => []);
  const done = (b: number) => newIds[b].length >= budgets[b] || (newIds[b].length > 0 && newIds[b][newIds[b].length - 1] === eos);
  const t0 = performance.now() / 1000;
  for (let b = 0; b < prompts.length; b++) {
    if (budgets[b] > 0) newIds[b].push(argmax(await model.forward(prompts[b], caches[b])));
  }
  const t1 = performance.now() / 1000;
  let steps = 0, decoded = 0;
  for (;;) {
    const active = prompts.map((_, b) => b).filter((b) => !done(b));
    if (active.length === 0) break;
    const logits = await model.forwardBatch(active.map((b) => newIds[b][newIds[b].length - 1]), active.map((b) => caches[b]));
    const V = logits.length / active.length;
    active.forEach((b, i) => newIds[b].push(argmax(logits.subarray(i * V, (i + 1) * V))));
    steps++;
    decoded += active.length;
  }
  const decodeSeconds = performance.now() / 1000 - t1;
  return {
    ids: prompts.map((p, b) => [...p, ...newIds[b]]),
    newIds,
    prefillSeconds: t1 - t0,
    decodeSeconds,
    steps,
    decodeTokensPerSecond: decoded > 0 ? decoded / decodeSeconds : NaN,
  };
}

/**
 * Turns a stream of token ids into a stream of text. Byte-level BPE tokens can
 * split a UTF-8 character (an emoji is often 2–3 tokens), so like transformers'
 * TextStreamer we decode everything so far and hold back text that ends in an
 * incomplete character (U+FFFD) until the next token completes it.
 */
export class TextStream {
  private ids: number[] = [];
  private printed = 0;
  constructor(private readonly decode: (ids: readonly number[]) => string, private readonly write: (text: string) => void) {}
  push(id: number): void {
    this.ids.push(id);
    const text = this.decode(this.ids);
    if (text.endsWith("\uFFFD")) return;
    this.emit(text);
  }
  /** Write whatever is held back (at the end of generation). */
  flush(): void {
    this.emit(this.decode(this.ids));
  }
  private emit(text: string): void {
    if (text.length > this.printed) this.write(text.slice(this.printed));
    this.printed = Math.max(this.printed, text.length);
  }
}

/**
 * Tokenize `prompt`, generate greedily, and hand the text to `onText` piece by piece
 * as it is produced. Returns the result and the new text (without the prompt).
 */
export async function generateText(
  model: PhiModel,
  tokenizer: PhiTokenizer,
  prompt: string,
  opts: Omit<GenerateOptions, "onToken">,
  onText?: (piece: string) => void,
): Promise<GenerateResult & { promptIds: number[]; text: string }> {
  const promptIds = tokenizer.encode(prompt);
  let text = "";
  const stream = new TextStream(tokenizer.decode, (piece) => {
    text += piece;
    onText?.(piece);
  });
  const r = await generate(model, promptIds, { ...opts, onToken: (id) => stream.push(id) });
  stream.flush();
  return { ...r, promptIds, text };
}
