import type { CisBenchmark, CisCheck } from './catalogue.js';

const auto = (id: string, title: string, coverage: Omit<CisCheck, 'id' | 'title' | 'assessment'>): CisCheck =>
  ({ id, title, assessment: 'automated', ...coverage }) as CisCheck;
const manual = (id: string, title: string, coverage: Omit<CisCheck, 'id' | 'title' | 'assessment'>): CisCheck =>
  ({ id, title, assessment: 'manual', ...coverage }) as CisCheck;

const FILES = { rule: 'files.control-plane-permissions' } as const;
const KUBELET_FILES = { rule: 'kubelet.config-file-permissions' } as const;

/**
 * CIS Kubernetes Benchmark v1.12, sections 1-4 (the node and control-plane checks; section 5 is the
 * workload side), as kube-bench's cfg/cis-1.12 numbers them. Every check is here: judged by a rule, a
 * manual check with what a person must verify, or listed as not built yet with the reason.
 */
export const CIS_1_12: CisBenchmark = {
  name: 'cis-1.12',
  title: 'CIS Kubernetes Benchmark v1.12',
  checks: [
    auto('1.1.1', 'API server static pod manifest mode is 600 or stricter', FILES),
    auto('1.1.2', 'API server static pod manifest is owned by root:root', FILES),
    auto('1.1.3', 'Controller manager static pod manifest mode is 600 or stricter', FILES),
    auto('1.1.4', 'Controller manager static pod manifest is owned by root:root', FILES),
    auto('1.1.5', 'Scheduler static pod manifest mode is 600 or stricter', FILES),
    auto('1.1.6', 'Scheduler static pod manifest is owned by root:root', FILES),
    auto('1.1.7', 'etcd static pod manifest mode is 600 or stricter', FILES),
    auto('1.1.8', 'etcd static pod manifest is owned by root:root', FILES),
    manual('1.1.9', 'CNI files are mode 600 or stricter', {
      manual:
        'the CNI configuration (/etc/cni/net.d) and state files (/var/lib/cni) are mode 600 or stricter; several CNI agents rewrite them with their own modes, so check after the CNI has settled',
    }),
    manual('1.1.10', 'CNI files are owned by root:root', { manual: 'the CNI configuration and state files are owned by root:root' }),
    auto('1.1.11', 'etcd data directory mode is 700 or stricter', FILES),
    auto('1.1.12', 'etcd data directory is owned by etcd:etcd', FILES),
    auto('1.1.13', 'Admin kubeconfig files are mode 600 or stricter', FILES),
    auto('1.1.14', 'Admin kubeconfig files are owned by root:root', FILES),
    auto('1.1.15', 'Scheduler kubeconfig is mode 600 or stricter', FILES),
    auto('1.1.16', 'Scheduler kubeconfig is owned by root:root', FILES),
    auto('1.1.17', 'Controller manager kubeconfig is mode 600 or stricter', FILES),
    auto('1.1.18', 'Controller manager kubeconfig is owned by root:root', FILES),
    auto('1.1.19', 'Kubernetes PKI directory and files are owned by root:root', FILES),
    manual('1.1.20', 'PKI certificate files are mode 644 or stricter', FILES),
    manual('1.1.21', 'PKI private key files are mode 600 or stricter', FILES),

    manual('1.2.1', 'Anonymous requests to the API server are limited', { rule: 'apiserver.anonymous-auth' }),
    auto('1.2.2', 'Static token file authentication is not configured', { rule: 'apiserver.token-auth-file' }),
    manual('1.2.3', 'DenyServiceExternalIPs admission plugin is enabled', {
      manual:
        'enable DenyServiceExternalIPs in --enable-admission-plugins unless some Service needs spec.externalIPs (list them: kubectl get svc -A -o jsonpath with .spec.externalIPs); enabling it rejects new Services that set externalIPs',
    }),
    auto('1.2.4', 'API server presents a client certificate to kubelets', { rule: 'apiserver.kubelet-client-certificate' }),
    auto('1.2.5', 'API server verifies kubelet serving certificates', { rule: 'apiserver.kubelet-certificate-authority' }),
    auto('1.2.6', 'Authorization mode does not include AlwaysAllow', { rule: 'apiserver.authorization-mode' }),
    auto('1.2.7', 'Authorization mode includes Node', { rule: 'apiserver.authorization-mode' }),
    auto('1.2.8', 'Authorization mode includes RBAC', { rule: 'apiserver.authorization-mode' }),
    manual('1.2.9', 'EventRateLimit admission plugin is enabled', { rule: 'apiserver.event-rate-limit' }),
    auto('1.2.10', 'AlwaysAdmit admission plugin is not enabled', { rule: 'apiserver.admission-plugins' }),
    manual('1.2.11', 'AlwaysPullImages admission plugin is enabled', { rule: 'apiserver.admission-plugins' }),
    auto('1.2.12', 'ServiceAccount admission plugin is not disabled', { rule: 'apiserver.disabled-admission-plugins' }),
    auto('1.2.13', 'NamespaceLifecycle admission plugin is not disabled', { rule: 'apiserver.disabled-admission-plugins' }),
    auto('1.2.14', 'NodeRestriction admission plugin is enabled', { rule: 'apiserver.admission-plugins' }),
    auto('1.2.15', 'API server profiling is disabled', { rule: 'apiserver.profiling' }),
    auto('1.2.16', 'Audit logging to a file is configured', { rule: 'apiserver.audit-log' }),
    auto('1.2.17', 'Audit logs are kept at least 30 days', { rule: 'apiserver.audit-log' }),
    auto('1.2.18', 'At least 10 rotated audit log files are kept', { rule: 'apiserver.audit-log' }),
    auto('1.2.19', 'Audit log rotates at 100 MB or more', { rule: 'apiserver.audit-log' }),
    manual('1.2.20', 'Request timeout is set appropriately', {
      manual:
        '--request-timeout (default 60s) suits the cluster: raise it only for clients that need long requests, and keep long-running watches in mind; there is no value that is right everywhere',
    }),
    auto('1.2.21', 'Service account tokens are validated against etcd', { rule: 'apiserver.service-account-lookup' }),
    auto('1.2.22', 'Service account verification key file is set', { rule: 'apiserver.service-account-key-file' }),
    auto('1.2.23', 'API server uses a client certificate to talk to etcd', { rule: 'apiserver.etcd-client-certificate' }),
    auto('1.2.24', 'API server serves TLS with an explicit certificate and key', { rule: 'apiserver.tls-cert-file' }),
    auto('1.2.25', 'Client certificate authentication CA is set', { rule: 'apiserver.client-ca-file' }),
    auto('1.2.26', 'CA for verifying etcd is set', { rule: 'apiserver.etcd-cafile' }),
    manual('1.2.27', 'Encryption at rest is configured', { rule: 'apiserver.encryption-at-rest' }),
    manual('1.2.28', 'Encryption at rest uses a strong provider', { rule: 'apiserver.encryption-at-rest' }),
    manual('1.2.29', 'API server TLS cipher suites are restricted to strong ones', { rule: 'apiserver.tls-cipher-suites' }),
    auto('1.2.30', 'Projected service account token expiration is not silently extended', {
      rule: 'apiserver.service-account-extend-token-expiration',
    }),

    manual('1.3.1', 'Terminated pod garbage-collection threshold is set', { rule: 'controller-manager.terminated-pod-gc-threshold' }),
    auto('1.3.2', 'Controller manager profiling is disabled', { rule: 'controller-manager.profiling' }),
    auto('1.3.3', 'Controllers use individual service account credentials', { rule: 'controller-manager.use-service-account-credentials' }),
    auto('1.3.4', 'Service account token signing key is set', { rule: 'controller-manager.service-account-private-key-file' }),
    auto('1.3.5', 'Root CA bundle for service account tokens is set', { rule: 'controller-manager.root-ca-file' }),
    auto('1.3.6', 'RotateKubeletServerCertificate is not turned off on the controller manager', {
      rule: 'controller-manager.rotate-kubelet-server-certificate',
    }),
    auto('1.3.7', 'Controller manager binds only to loopback', { rule: 'controller-manager.bind-address' }),

    auto('1.4.1', 'Scheduler profiling is disabled', { rule: 'scheduler.profiling' }),
    auto('1.4.2', 'Scheduler binds only to loopback', { rule: 'scheduler.bind-address' }),

    auto('2.1', 'etcd serves clients over TLS with a certificate and key', { rule: 'etcd.client-tls' }),
    auto('2.2', 'etcd requires client certificate authentication', { rule: 'etcd.client-cert-auth' }),
    auto('2.3', 'etcd does not use self-signed automatic TLS for clients', { rule: 'etcd.auto-tls' }),
    auto('2.4', 'etcd peer traffic uses a TLS certificate and key', { rule: 'etcd.peer-tls' }),
    auto('2.5', 'etcd requires client certificates between peers', { rule: 'etcd.peer-client-cert-auth' }),
    auto('2.6', 'etcd does not use self-signed automatic TLS for peers', { rule: 'etcd.peer-auto-tls' }),
    manual('2.7', 'etcd uses its own certificate authority', { rule: 'etcd.trusted-ca-file' }),

    manual('3.1.1', 'Users do not authenticate with client certificates', {
      manual:
        'people authenticate through OIDC or another revocable mechanism, not client certificates (a certificate cannot be revoked before it expires); keep admin.conf for break-glass use only',
    }),
    manual('3.1.2', 'Users do not authenticate with service account tokens', {
      manual: 'service account tokens are used by workloads only; people get their own identities',
    }),
    manual('3.1.3', 'Users do not authenticate with bootstrap tokens', {
      manual: 'bootstrap tokens are used only to join nodes, and expire (kubeadm token list shows their TTL)',
    }),
    manual('3.2.1', 'A minimal audit policy exists', { rule: 'apiserver.audit-policy' }),
    manual('3.2.2', 'The audit policy covers key security concerns', {
      manual:
        'the audit policy logs Secrets, ConfigMaps and TokenReviews at Metadata, pod and deployment changes, and pods/exec, pods/portforward, pods/proxy and services/proxy; review it against what the cluster must be able to investigate',
    }),

    auto('4.1.1', 'kubelet systemd unit and drop-in files are mode 600 or stricter', { rule: 'kubelet.service-file-permissions' }),
    auto('4.1.2', 'kubelet systemd unit and drop-in files are owned by root:root', { rule: 'kubelet.service-file-permissions' }),
    manual('4.1.3', 'kube-proxy kubeconfig, if present, is mode 600 or stricter', { rule: 'kube-proxy.kubeconfig-permissions' }),
    manual('4.1.4', 'kube-proxy kubeconfig, if present, is owned by root:root', { rule: 'kube-proxy.kubeconfig-permissions' }),
    auto('4.1.5', 'kubelet kubeconfig is mode 600 or stricter', KUBELET_FILES),
    auto('4.1.6', 'kubelet kubeconfig is owned by root:root', KUBELET_FILES),
    manual('4.1.7', 'kubelet client CA file is mode 644 or stricter', { rule: 'kubelet.client-ca-file-permissions' }),
    manual('4.1.8', 'kubelet client CA file is owned by root:root', { rule: 'kubelet.client-ca-file-permissions' }),
    auto('4.1.9', 'kubelet config file is mode 600 or stricter', KUBELET_FILES),
    auto('4.1.10', 'kubelet config file is owned by root:root', KUBELET_FILES),

    auto('4.2.1', 'kubelet rejects anonymous requests', { rule: 'kubelet.anonymous-auth' }),
    auto('4.2.2', 'kubelet authorization is not AlwaysAllow', { rule: 'kubelet.authorization-mode' }),
    auto('4.2.3', 'kubelet has a client CA for x509 client authentication', { rule: 'kubelet.client-ca-file' }),
    manual('4.2.4', 'kubelet read-only port is 0 when defined', { rule: 'kubelet.read-only-port' }),
    manual('4.2.5', 'kubelet streaming connection idle timeout is not 0', { rule: 'kubelet.streaming-connection-idle-timeout' }),
    auto('4.2.6', 'kubelet manages iptables util chains', { rule: 'kubelet.make-iptables-util-chains' }),
    manual('4.2.7', 'kubelet --hostname-override is not used', {
      manual:
        'the kubelet has no --hostname-override unless the cloud provider needs it; the Node name must match the name its certificates and the cloud know, so removing it is a re-registration, not a flag edit',
    }),
    manual('4.2.8', 'kubelet event record QPS captures events', {
      manual:
        'eventRecordQPS (default 50 with burst 100) is high enough that events are not dropped under load; 0 means unlimited, which protects events but not the API server',
    }),
    manual('4.2.9', 'kubelet serving certificate and key are set', {
      manual:
        'the kubelet serves a certificate its clients can verify: tlsCertFile/tlsPrivateKeyFile from your PKI, or serverTLSBootstrap: true with the kubelet-serving CSRs approved (see apiserver.kubelet-certificate-authority)',
    }),
    auto('4.2.10', 'kubelet client certificate rotation is not disabled', { rule: 'kubelet.rotate-certificates' }),
    manual('4.2.11', 'RotateKubeletServerCertificate is not disabled on the kubelet', { rule: 'kubelet.rotate-server-certificate-gate' }),
    manual('4.2.12', 'kubelet TLS cipher suites are restricted to strong ones', { rule: 'kubelet.tls-cipher-suites' }),
    manual('4.2.13', 'kubelet limits PIDs per pod', { rule: 'kubelet.pod-pids-limit' }),
    manual('4.2.14', 'kubelet uses the RuntimeDefault seccomp profile by default', { rule: 'kubelet.seccomp-default' }),

    auto('4.3.1', 'kube-proxy metrics endpoint is bound to localhost', { rule: 'kube-proxy.metrics-bind-address' }),
  ],
};
