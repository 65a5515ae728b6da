// The contract and code shared by the platform and the connect gateway.
export {
  blockSize,
  type Cidr,
  contains,
  formatCidr,
  formatIpv4,
  parseCidr,
  parseIpv4,
  subBlock,
  subBlockCount,
} from "./net/ipv4.ts";
