// The nearest folder at or above `from` that passes `test`: how the code finds the checkout
// whether it runs from its sources (vitest) or from dist/ (the compiled scripts, notebooks).
import { dirname } from "node:path";

/** The first of `from`, its parent, … for which `test` holds; throws `notFound()` at the file system's root. */
export function findUp(from: string, test: (dir: string) => boolean, notFound: () => string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (test(dir)) return dir;
    if (dirname(dir) === dir) throw new Error(notFound());
  }
}
