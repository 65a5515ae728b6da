// Configuration read once at the entry point: a value that does not fit stops the program with a
// message naming the variable, and exit code 2 — the same on the platform and on the gateway.

/** A configuration variable whose value does not fit; the message names the variable. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = "ConfigError";
  }
}

/** `read()`'s configuration; on a ConfigError prints "Configuration error: …" and exits with 2. */
export function configOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Configuration error: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}
