// The failure guards of the three doors anyone can knock at: the portal's sign-in (local and
// through identity providers), the admin API's tokens and the gateway API's secrets. One
// mechanism (audit/failure-guard.ts), one per door, flushed together by the caller.
import { DEFAULT_FAILURE_POLICY, FailureGuard, type FailurePolicy } from "../audit/index.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";

export class AuthFailures {
  /** Unknown gateway or wrong secret at /api/gateway/v1 (every failure audited in aggregate). */
  readonly gatewayApi: FailureGuard;
  /** Sign-in attempts: unknown usernames and sign-in options audited in aggregate. */
  readonly signIn: FailureGuard;
  /** /api/v1 without a token or with an unknown one (audited in aggregate). */
  readonly apiToken: FailureGuard;

  constructor(db: Db, clock: Clock, policy: FailurePolicy = DEFAULT_FAILURE_POLICY) {
    this.gatewayApi = new FailureGuard(
      db,
      clock,
      {
        action: "gateway_api.auth",
        who: "gateway API client",
        namesKey: "gatewayIds",
        moreNamesKey: "moreGatewayIds",
      },
      policy,
    );
    this.signIn = new FailureGuard(
      db,
      clock,
      {
        action: "sign_in.refused",
        who: "sign-in client",
        namesKey: "names",
        moreNamesKey: "moreNames",
      },
      policy,
    );
    this.apiToken = new FailureGuard(
      db,
      clock,
      {
        action: "api_token.refused",
        who: "API client",
        namesKey: "requests",
        moreNamesKey: "moreRequests",
      },
      policy,
    );
  }

  /** Writes the aggregated entries of ended intervals (all with `all`); returns how many. */
  async flush(options: { all?: boolean } = {}): Promise<number> {
    let written = 0;
    for (const guard of [this.gatewayApi, this.signIn, this.apiToken])
      written += await guard.flush(options);
    return written;
  }
}
