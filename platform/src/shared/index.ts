// Small things every folder uses: the injected clock, the domain errors, input validation and the
// recognition of database errors.
export { type Clock, ManualClock, systemClock } from "./clock.ts";
export * from "./errors.ts";
export { inputLayer } from "./input.ts";
export {
  databaseUnreachable,
  FOREIGN_KEY_VIOLATION,
  type PgErrorInfo,
  pgError,
  RESTRICT_VIOLATION,
  UNIQUE_VIOLATION,
} from "./pg-error.ts";
export { sourceOf } from "./source.ts";
export {
  CONTROL,
  escapeFormatCharacters,
  escapeLike,
  FORMAT_CHARACTER,
  FORMAT_MESSAGE,
  isUuid,
  LINE_CONTROL,
  NAME_MAX,
  nameSchema,
  parseInput,
  TEXT_CONTROL,
} from "./validate.ts";
export { submittedVersion, versionOf } from "./version.ts";
