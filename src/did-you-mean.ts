/**
 * "did you mean …?" for mistyped commands, flags, provider ids and format names. A leaf (no
 * imports) because the hot path's argument checks use it too.
 *
 * The distance is the optimal-string-alignment one (Levenshtein plus swapping two neighbours), so
 * the commonest typos — `stauts`, `openruoter`, `--fromat` — are one edit away.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const typed = word.toLowerCase();
  // Short words tolerate one edit, longer ones two: "env" must not suggest "exec".
  const limit = typed.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    const d = editDistance(typed, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  // A prefix long enough to be unambiguous counts too: `authctl prov` → providers.
  if (best === undefined && typed.length >= 3) {
    const prefixed = [...candidates].filter((c) => c.toLowerCase().startsWith(typed));
    if (prefixed.length === 1) best = prefixed[0];
  }
  return best;
}

/** ` (did you mean 'x'?)`-style suffix, or "" when nothing is close. */
export function didYouMean(
  word: string,
  candidates: Iterable<string>,
  quote = (s: string) => `'${s}'`,
): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? "" : `did you mean ${quote(match)}?`;
}

function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
