// What a domain operation needs to know about its caller and its surroundings.
import type { Actor } from "../audit/index.ts";
import type { Db } from "../db/index.ts";
import type { Clock } from "../shared/index.ts";
import type { Principal } from "./roles.ts";

export interface Caller {
  principal: Principal;
  actor: Actor;
}

export interface Context {
  db: Db;
  clock: Clock;
  caller: Caller;
}
