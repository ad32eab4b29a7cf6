// DNS-1123 labels: what Kubernetes, Kuma and DNS itself accept as a single name component.
export const DNS_LABEL_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const DNS_LABEL_MAX = 63;
const DNS_LABEL = new RegExp(DNS_LABEL_PATTERN);

/** Why `value` is not a DNS-1123 label, or undefined when it is one. */
export function dnsLabelProblem(value: string): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (value.length > DNS_LABEL_MAX) return `must be at most ${DNS_LABEL_MAX} characters`;
  if (!DNS_LABEL.test(value)) {
    return "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit";
  }
  return undefined;
}

const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes-style label keys: an optional DNS-subdomain prefix and '/', then a name of at most 63. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return "the prefix before '/' must be a DNS subdomain of at most 253 characters";
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return "must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return "must be empty or at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit";
  }
  return undefined;
}
