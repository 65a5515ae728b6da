// Exponential back-off with jitter: 1 s, 2 s, 4 s … up to 60 s, each ±25 %, so a thousand gateways
// that lost the platform at once do not return at the same instant.
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs = 1000,
    private readonly maxMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt after one more failure, in milliseconds. */
  next(): number {
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** this.failures);
    this.failures = Math.min(this.failures + 1, 30);
    return Math.round(delay * (0.75 + this.random() * 0.5));
  }

  reset(): void {
    this.failures = 0;
  }
}
