import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { END_REASONS } from "./lifecycle.ts";
import {
  CLOSE_REASONS,
  closeAfterEnd,
  closeReasonText,
  endReasonOf,
  isCloseReason,
  operatorMustReconnect,
} from "./reasons.ts";

describe("close reasons", () => {
  test("only a technician's or an admin's end leaves the re-arm to the operator", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CLOSE_REASONS), (reason) => {
        expect(operatorMustReconnect(reason)).toBe(reason === "technician" || reason === "admin");
      }),
    );
    expect(operatorMustReconnect(null)).toBe(false);
  });

  test("an end closes the data channel exactly when it takes the re-arm away", () => {
    fc.assert(
      fc.property(fc.constantFrom(...END_REASONS), (reason) => {
        const close = closeAfterEnd(reason);
        expect(close !== null).toBe(reason === "technician" || reason === "admin");
        if (close) expect(operatorMustReconnect(close)).toBe(true);
      }),
    );
  });

  test("under every approval policy a person's end leaves the channel while others are open; the last one closes it", () => {
    const approving = ["operator_approval", "customer_approval", "two_party"] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...END_REASONS),
        fc.constantFrom(...approving),
        fc.boolean(),
        (reason, policy, othersOpen) => {
          const close = closeAfterEnd(reason, policy, othersOpen);
          const personal = reason === "technician" || reason === "admin";
          expect(close).toBe(personal && !othersOpen ? reason : null);
          // Under operator Connect the others do not matter.
          expect(closeAfterEnd(reason, "operator_connect", othersOpen)).toBe(
            personal ? reason : null,
          );
        },
      ),
    );
  });

  test("the remote sessions of a closed channel never end as if a person had ended them", () => {
    fc.assert(
      fc.property(fc.constantFrom(...CLOSE_REASONS), (reason) => {
        const end = endReasonOf(reason);
        expect(END_REASONS).toContain(end);
        expect(["technician", "admin", "expiry", "config_unused"]).not.toContain(end);
      }),
    );
  });

  test("every reason has words; only known values are reasons", () => {
    for (const reason of CLOSE_REASONS) expect(closeReasonText(reason).length).toBeGreaterThan(0);
    expect(closeReasonText("technician")).toBe("remote session ended by technician");
    expect(isCloseReason("operator")).toBe(true);
    expect(isCloseReason("remote session ended by technician")).toBe(false);
  });
});
