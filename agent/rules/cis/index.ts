import type { CisBenchmark } from './catalogue.js';
import { CIS_1_12 } from './cis-1.12.js';

/** Every benchmark version the repository carries, oldest first. */
export const BENCHMARKS: readonly CisBenchmark[] = [CIS_1_12];

/** The newest benchmark (the default of `audit --benchmark`). */
export const DEFAULT_BENCHMARK: CisBenchmark = BENCHMARKS[BENCHMARKS.length - 1]!;

/** The benchmark of that name, or null. */
export function benchmarkNamed(name: string): CisBenchmark | null {
  return BENCHMARKS.find((benchmark) => benchmark.name === name) ?? null;
}
