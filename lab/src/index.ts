// The lab: network namespaces and processes for end-to-end tests and benchmarks.
export { labSkipReason, labUnavailable, link, Netns, OutputLog, waitFor } from "./netns.ts";
