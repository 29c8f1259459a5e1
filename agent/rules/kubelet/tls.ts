/**
 * TLS names Kubernetes components accept (component-base/cli/flag/ciphersuites_flag.go), see
 * KUBERNETES-FACTS.md §1–2 and §12.
 */

/** The seeds' six ECDHE AEAD suites, spelled as CIS 4.2.12 and kube-bench expect them. */
export const DEFAULT_CIPHER_SUITES: readonly string[] = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
];

/**
 * Suites a policy may ask for: accepted by every supported Kubernetes release and not in Go's insecure
 * list (so RSA key exchange, CBC and RC4/3DES suites are refused). Both CHACHA20 spellings are accepted
 * by Kubernetes; the TLS 1.3 names have no effect on the setting and are not offered.
 */
export const STRONG_CIPHER_SUITES: ReadonlySet<string> = new Set([
  ...DEFAULT_CIPHER_SUITES,
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
]);

/** Minimum versions a policy may ask for (lower ones are not hardening). */
export const POLICY_TLS_VERSIONS: readonly string[] = ['VersionTLS12', 'VersionTLS13'];

/** Order of every version name the components accept; empty means the default, TLS 1.2. */
const TLS_VERSION_RANK: Record<string, number> = { VersionTLS10: 10, VersionTLS11: 11, '': 12, VersionTLS12: 12, VersionTLS13: 13 };

/** Rank of a tlsMinVersion value, or null when the component would refuse it (`unknown tls version`). */
export function tlsVersionRank(version: string): number | null {
  return TLS_VERSION_RANK[version] ?? null;
}
