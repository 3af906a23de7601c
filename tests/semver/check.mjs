// Answers, with npm's semver package, what the C++ semver test asks: one JSON object per input
// line, {"r": range, "vs": [versions]}, answered by {"range": valid?, "valid": [per version],
// "sat": [per version], "max": highest satisfying or null}. Default options (not loose, no
// includePrerelease), as our implementation.
import { createInterface } from 'node:readline';
import semver from 'semver';

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
  if (!line.trim()) continue;
  const { r, vs } = JSON.parse(line);
  const range = semver.validRange(r) !== null;
  const valid = vs.map((v) => semver.valid(v) !== null);
  const sat = vs.map((v, i) => valid[i] && range && semver.satisfies(v, r));
  const good = vs.filter((v, i) => valid[i]);
  const max = range ? semver.maxSatisfying(good, r) : null;
  process.stdout.write(JSON.stringify({ range, valid, sat, max }) + '\n');
}
