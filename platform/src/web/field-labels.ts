// The words a form shows for its fields: an error on a portal page names the field as the form
// does ("LAN address"), not as the code does ("lanAddress"). The API keeps the field names.

const LABELS: Record<string, string> = {
  lanAddress: "LAN address",
  customerId: "Customer",
  displayName: "Full name",
  username: "Username",
  name: "Name",
  port: "Port",
  protocol: "Protocol",
  enabled: "Enabled",
  role: "Role",
  reason: "Reason",
  current: "Current password",
  next: "New password",
  password: "Password",
  code: "Code",
  days: "Valid for (days)",
  serviceAccount: "Service account",
  scope: "For",
  channel: "By",
  target: "Address or URL",
  events: "Events",
  clientId: "Client id",
  clientSecret: "Client secret",
  clientAuth: "Client authentication",
  issuer: "Issuer URL",
  slug: "Short name",
  scopes: "Scopes",
  groupsClaim: "Groups claim",
  group: "Group",
  mfaAmr: "amr values that mean MFA",
  mfaAcr: "acr value that means MFA",
  idTokenAlg: "ID token signature",
  caPem: "CA certificate",
  policy: "Second factor",
  action: "Action",
  actor: "Actor",
  result: "Result",
  from: "From",
  to: "To",
  q: "Search",
};

/** The form's word for `field`; an unknown camelCase name is spelt out ("groupsClaim" → "Groups claim"). */
export function fieldLabel(field: string): string {
  const known = LABELS[field];
  if (known) return known;
  const words = field.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A ValidationError's "field: message" with the field in the form's words. */
export function inFormWords(field: string | null, message: string): string {
  if (!field || !message.startsWith(`${field}: `)) return message;
  return `${fieldLabel(field)}: ${message.slice(field.length + 2)}`;
}
